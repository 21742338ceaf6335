namespace Virt.Cpu.Fpu;

/// <summary>
/// F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS and FPTAN. Results are evaluated with
/// 128-bit significands (<see cref="WideFloat"/>: argument reduction, Taylor/atanh/atan series)
/// and rounded once to 64 bits under RC, so they are within 1 ulp of extended precision and almost
/// always correctly rounded — at least as accurate as Intel hardware (which guarantees 1 ulp).
/// Trigonometric arguments are reduced with the same 66-bit approximation of π the hardware uses
/// (SDM vol. 1 §8.3.10), so results for large arguments match the hardware rather than the exact
/// mathematical function. Special operands follow the SDM tables for each instruction.
/// </summary>
public static class X87Transcendentals
{
    /// <summary>π·2^64 rounded to 66 bits: the hardware's internal π.</summary>
    private static readonly UInt128 Pi66 = ((UInt128)0x3 << 64) | 0x243F_6A88_85A3_08D3;

    private static readonly WideFloat Ln2 = ComputeLn2();
    private static readonly WideFloat Log2E = WideFloat.One / Ln2;
    private static readonly WideFloat Pi = ComputePi();
    private static readonly WideFloat HalfPi = Pi.ScaleB(-1);
    private static readonly WideFloat QuarterPi = Pi.ScaleB(-2);
    /// <summary>√2 as a 64-bit significand (rounded down): the split point of the logarithm's range reduction.</summary>
    private const ulong Sqrt2Significand = 0xB504_F333_F9DE_6484;
    /// <summary>tan(π/8) as a double: above it atan(t) is computed as π/4 + atan((t−1)/(t+1)).</summary>
    private const double TanPiOver8 = 0.41421356237309503;

    /// <summary>F2XM1: 2^x − 1, defined for −1 ≤ x ≤ 1 (other finite values are computed by the same formula).</summary>
    public static Float80 F2xm1(ref FloatContext c, Float80 x)
    {
        if (Special(ref c, x, out var special))
        {
            return special;
        }

        if (x.IsInfinity)
        {
            return x.Sign ? new Float80(true, Float80.Bias, Float80.IntegerBit) : x;
        }

        if (x.IsZero)
        {
            return x;
        }

        // Outside −1 ≤ x ≤ 1 the result is undefined; Intel hardware returns the operand unchanged.
        if (x.Exponent > Float80.Bias || (x.Exponent == Float80.Bias && x.Significand != Float80.IntegerBit) || x == Float80.One)
        {
            return x;
        }

        if (x == Float80.One.Negate())
        {
            return new Float80(true, Float80.Bias - 1, Float80.IntegerBit);
        }

        return ExpM1(WideFloat.FromFloat80(x) * Ln2).ToFloat80(ref c);
    }

    /// <summary>FYL2X: y·log2(x) with x = ST(0), y = ST(1).</summary>
    public static Float80 Fyl2x(ref FloatContext c, Float80 x, Float80 y)
    {
        if (SpecialPair(ref c, x, y, out var special))
        {
            return special;
        }

        if (x.IsInfinity)
        {
            if (x.Sign || y.IsZero)
            {
                return SoftFloat80.InvalidResult(ref c);
            }

            return Infinity(y.Sign);
        }

        if (x.Sign && !x.IsZero)
        {
            return SoftFloat80.InvalidResult(ref c);
        }

        var xIsOne = x == Float80.One;
        if (y.IsInfinity)
        {
            if (x.IsZero)
            {
                // log2(0) = −∞: the product is an infinity, no divide-by-zero is signalled with an infinite y.
                return Infinity(!y.Sign);
            }

            if (xIsOne)
            {
                return SoftFloat80.InvalidResult(ref c);
            }

            return Infinity(y.Sign ^ (x.Exponent < Float80.Bias && x.Exponent != 0 || x.IsDenormal));
        }

        if (x.IsZero)
        {
            if (y.IsZero)
            {
                return SoftFloat80.InvalidResult(ref c);
            }

            c.Raise(X87ExceptionFlags.ZeroDivide);
            return Infinity(!y.Sign);
        }

        if (y.IsZero)
        {
            var belowOne = x.Exponent < Float80.Bias;
            return new Float80(y.Sign ^ belowOne, 0, 0);
        }

        if (xIsOne)
        {
            return new Float80(y.Sign, 0, 0);
        }

        return (WideFloat.FromFloat80(y) * Log2(x)).ToFloat80(ref c);
    }

    /// <summary>FYL2XP1: y·log2(x + 1) with x = ST(0), y = ST(1); defined for |x| &lt; 1 − √2/2.</summary>
    public static Float80 Fyl2xp1(ref FloatContext c, Float80 x, Float80 y)
    {
        if (SpecialPair(ref c, x, y, out var special))
        {
            return special;
        }

        if (x.IsInfinity)
        {
            if (x.Sign || y.IsZero)
            {
                return SoftFloat80.InvalidResult(ref c);
            }

            return Infinity(y.Sign);
        }

        if (y.IsInfinity)
        {
            return x.IsZero ? SoftFloat80.InvalidResult(ref c) : Infinity(y.Sign ^ x.Sign);
        }

        if (x.IsZero || y.IsZero)
        {
            return new Float80(x.Sign ^ y.Sign, 0, 0);
        }

        var wx = WideFloat.FromFloat80(x);
        var onePlus = wx + WideFloat.One;
        if (onePlus.IsZero || onePlus.Sign)
        {
            return SoftFloat80.InvalidResult(ref c);
        }

        var lnOnePlus = Atanh(wx / (wx + WideFloat.FromInt(2))).ScaleB(1);
        return (WideFloat.FromFloat80(y) * lnOnePlus * Log2E).ToFloat80(ref c);
    }

    /// <summary>FPATAN: atan2(y, x) with x = ST(0), y = ST(1), result in (−π, π].</summary>
    public static Float80 Fpatan(ref FloatContext c, Float80 x, Float80 y)
    {
        if (SpecialPair(ref c, x, y, out var special))
        {
            return special;
        }

        var sign = y.Sign;
        WideFloat angle;
        if (y.IsZero)
        {
            if (!x.Sign)
            {
                return new Float80(sign, 0, 0);
            }

            angle = Pi;
        }
        else if (x.IsZero)
        {
            angle = HalfPi;
        }
        else if (y.IsInfinity)
        {
            angle = x.IsInfinity ? (x.Sign ? Pi - QuarterPi : QuarterPi) : HalfPi;
        }
        else if (x.IsInfinity)
        {
            if (!x.Sign)
            {
                return new Float80(sign, 0, 0);
            }

            angle = Pi;
        }
        else
        {
            var ax = WideFloat.FromFloat80(x).Abs();
            var ay = WideFloat.FromFloat80(y).Abs();
            angle = ay > ax ? HalfPi - Atan(ax / ay) : Atan(ay / ax);
            if (x.Sign)
            {
                angle = Pi - angle;
            }
        }

        return (sign ? -angle : angle).ToFloat80(ref c);
    }

    /// <summary>
    /// FSIN/FCOS/FSINCOS/FPTAN core: false when |x| ≥ 2^63 (the caller sets C2 and leaves the stack alone).
    /// On true, <paramref name="sine"/> and <paramref name="cosine"/> are set (possibly NaN/indefinite).
    /// </summary>
    public static bool SinCos(ref FloatContext c, Float80 x, out Float80 sine, out Float80 cosine)
    {
        if (TrigOperand(ref c, x, out var early) is { } handled)
        {
            sine = cosine = early;
            return handled;
        }

        if (x.IsZero || IsTinyAngle(ref c, x, resultIsX: true))
        {
            sine = Canonical(x);
            cosine = Float80.One;
            return true;
        }

        var (s, co) = SinCosWide(x);
        var sineContext = c;
        sine = s.ToFloat80(ref sineContext);
        var cosineContext = c;
        cosine = co.ToFloat80(ref cosineContext);
        c.Flags |= sineContext.Flags | cosineContext.Flags;
        c.RoundedUp = sineContext.RoundedUp;
        return true;
    }

    /// <summary>Rounds only the sine (FSIN), so flags and C1 describe that one result.</summary>
    public static bool Sin(ref FloatContext c, Float80 x, out Float80 result) => SinCosOne(ref c, x, true, out result);

    /// <summary>Rounds only the cosine (FCOS).</summary>
    public static bool Cos(ref FloatContext c, Float80 x, out Float80 result) => SinCosOne(ref c, x, false, out result);

    private static bool SinCosOne(ref FloatContext c, Float80 x, bool wantSine, out Float80 result)
    {
        if (TrigOperand(ref c, x, out result) is { } handled) return handled;

        if (x.IsZero || IsTinyAngle(ref c, x, resultIsX: wantSine))
        {
            result = wantSine ? Canonical(x) : Float80.One;
            return true;
        }

        var (s, co) = SinCosWide(x);
        result = (wantSine ? s : co).ToFloat80(ref c);
        return true;
    }

    /// <summary>FPTAN core: false when |x| ≥ 2^63.</summary>
    public static bool Tan(ref FloatContext c, Float80 x, out Float80 result)
    {
        if (TrigOperand(ref c, x, out result) is { } handled) return handled;

        if (x.IsZero || IsTinyAngle(ref c, x, resultIsX: true))
        {
            result = Canonical(x);
            return true;
        }

        var (exp, _) = SoftFloat80.Normalize(x);
        if (exp - Float80.Bias < -20)
        {
            // tan x = x + x³/3 + 2x⁵/15 + O(x⁷): for tiny x this keeps the result's tail on the right
            // side of x, which the sin/cos quotient's truncation would not.
            var w = WideFloat.FromFloat80(x);
            var w2 = w * w;
            var w3 = w2 * w;
            var series = w + (w3 / WideFloat.FromInt(3)) + (w3 * w2 * WideFloat.FromInt(2) / WideFloat.FromInt(15));
            result = series.ToFloat80(ref c);
            return true;
        }

        var (s, co) = SinCosWide(x);
        result = (s / co).ToFloat80(ref c);
        return true;
    }

    /// <summary>
    /// Below 2^−68 Intel hardware returns sin x = tan x = x and cos x = 1 (inexact, and underflow for
    /// denormals) instead of the correctly rounded value; measured, and reproduced here.
    /// </summary>
    private const int TinyTrigExponent = Float80.Bias - 68;

    private static bool IsTinyAngle(ref FloatContext c, Float80 x, bool resultIsX)
    {
        if (x.Exponent >= TinyTrigExponent)
        {
            return false;
        }

        // A true denormal returned as sin/tan is a tiny inexact result; cos = 1 and pseudo-denormals are not tiny.
        var tiny = resultIsX && x.IsDenormal && !x.IsPseudoDenormal;
        c.Raise(X87ExceptionFlags.Precision | (tiny ? X87ExceptionFlags.Underflow : X87ExceptionFlags.None));
        c.RoundedUp = false;
        return true;
    }

    /// <summary>A pseudo-denormal comes back in its normal encoding (exponent 1), as the hardware returns it.</summary>
    private static Float80 Canonical(Float80 x) => x.IsPseudoDenormal ? new Float80(x.Sign, 1, x.Significand) : x;

    /// <summary>
    /// What every trigonometric instruction does before computing: NaN and unsupported operands,
    /// infinity (invalid), and |x| ≥ 2^63 (C2 = 1, operand unchanged: returns false). Null when x
    /// is an ordinary in-range operand to compute with.
    /// </summary>
    private static bool? TrigOperand(ref FloatContext c, Float80 x, out Float80 result)
    {
        if (Special(ref c, x, out result)) return true;
        if (x.IsInfinity)
        {
            result = SoftFloat80.InvalidResult(ref c);
            return true;
        }
        if (!InRange(x))
        {
            result = x;
            return false;
        }
        return null;
    }

    private static bool InRange(Float80 x) => x.IsZero || x.IsDenormal || x.Exponent - Float80.Bias < 63;

    private static Float80 Infinity(bool sign) => new(sign, Float80.MaxExponent, Float80.IntegerBit);

    /// <summary>Unsupported encodings → IE; NaNs propagate; denormals flag DE. True when the result is final.</summary>
    private static bool Special(ref FloatContext c, Float80 x, out Float80 result)
    {
        if (x.IsUnsupported)
        {
            result = SoftFloat80.InvalidResult(ref c);
            return true;
        }

        if (x.IsNaN)
        {
            result = SoftFloat80.PropagateNaN(ref c, x, x);
            return true;
        }

        if (x.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        result = default;
        return false;
    }

    private static bool SpecialPair(ref FloatContext c, Float80 x, Float80 y, out Float80 result)
    {
        if (x.IsUnsupported || y.IsUnsupported)
        {
            result = SoftFloat80.InvalidResult(ref c);
            return true;
        }

        if (x.IsNaN || y.IsNaN)
        {
            result = SoftFloat80.PropagateNaN(ref c, x, y);
            return true;
        }

        if (x.IsDenormal || y.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        result = default;
        return false;
    }

    /// <summary>sin and cos of a finite nonzero |x| &lt; 2^63, reduced modulo the hardware's 66-bit π/2.</summary>
    private static (WideFloat Sine, WideFloat Cosine) SinCosWide(Float80 x)
    {
        var (exp, sig) = SoftFloat80.Normalize(x);
        var e = exp - Float80.Bias;
        WideFloat r;
        var quadrant = 0;
        // |x| < π/4 needs no reduction (π/4 = 0xC90FDAA22168C235·2^−64).
        if (e < -1 || (e == -1 && sig < 0xC90F_DAA2_2168_C234))
        {
            r = WideFloat.FromFloat80(x.Abs());
        }
        else
        {
            // |x|·2^65 = sig·2^(e+2) is an integer below 2^128; π/2 is Pi66·2^−65.
            var scaled = (UInt128)sig << (e + 2);
            var quotient = scaled / Pi66;
            var remainder = scaled % Pi66;
            Int128 reduced = (Int128)remainder;
            if (remainder >= Pi66 - remainder)
            {
                quotient++;
                reduced -= (Int128)Pi66;
            }

            quadrant = (int)(quotient & 3);
            r = WideFloat.FromInt128(reduced, -65);
        }

        var (s, co) = SinCosSeries(r);
        var (sine, cosine) = quadrant switch
        {
            0 => (s, co),
            1 => (co, -s),
            2 => (-s, -co),
            _ => (-co, s),
        };
        return (x.Sign ? -sine : sine, cosine);
    }

    /// <summary>Taylor series of sin and cos for |r| ≤ π/4.</summary>
    private static (WideFloat Sine, WideFloat Cosine) SinCosSeries(WideFloat r)
    {
        if (r.IsZero)
        {
            return (r, WideFloat.One);
        }

        var r2 = r * r;
        var sine = r;
        var term = r;
        for (var k = 1; k < 40; k++)
        {
            term = -(term * r2 / WideFloat.FromInt((2 * k) * ((2 * k) + 1)));
            sine += term;
            if (term.IsZero || term.Exp < sine.Exp - 132)
            {
                break;
            }
        }

        var cosine = WideFloat.One;
        term = WideFloat.One;
        for (var k = 1; k < 40; k++)
        {
            term = -(term * r2 / WideFloat.FromInt(((2 * k) - 1) * (2 * k)));
            cosine += term;
            if (term.IsZero || term.Exp < cosine.Exp - 132)
            {
                break;
            }
        }

        return (sine, cosine);
    }

    /// <summary>e^t − 1 by its Taylor series (|t| ≤ ln 2 in the defined domain).</summary>
    private static WideFloat ExpM1(WideFloat t)
    {
        var sum = t;
        var term = t;
        for (var k = 2; k < 200; k++)
        {
            term = term * t / WideFloat.FromInt(k);
            sum += term;
            if (term.IsZero || term.Exp < sum.Exp - 132)
            {
                break;
            }
        }

        return sum;
    }

    /// <summary>log2 of a finite positive value: e + ln(m)·log2(e) with m ∈ [√½, √2).</summary>
    private static WideFloat Log2(Float80 x)
    {
        var (exp, sig) = SoftFloat80.Normalize(x);
        var e = exp - Float80.Bias;
        var m = new WideFloat(false, 0, (UInt128)sig << 64);
        if (sig > Sqrt2Significand)
        {
            m = m.ScaleB(-1);
            e++;
        }

        var integerPart = WideFloat.FromInt(e);
        if (sig == Float80.IntegerBit)
        {
            return integerPart;
        }

        var one = WideFloat.One;
        var lnM = Atanh((m - one) / (m + one)).ScaleB(1);
        return integerPart + (lnM * Log2E);
    }

    /// <summary>atanh(s) = s + s³/3 + s⁵/5 + … for |s| &lt; 1 (fast for the |s| ≤ 0.18 used here).</summary>
    private static WideFloat Atanh(WideFloat s)
    {
        var s2 = s * s;
        var sum = s;
        var power = s;
        for (var k = 1; k < 2000; k++)
        {
            power *= s2;
            var term = power / WideFloat.FromInt((2 * k) + 1);
            sum += term;
            if (term.IsZero || term.Exp < sum.Exp - 132)
            {
                break;
            }
        }

        return sum;
    }

    /// <summary>atan(t) for 0 ≤ t ≤ 1, reduced to |u| ≤ tan(π/8) before the series.</summary>
    private static WideFloat Atan(WideFloat t)
    {
        if (t.ToDouble() > TanPiOver8)
        {
            var one = WideFloat.One;
            return QuarterPi + AtanSeries((t - one) / (t + one));
        }

        return AtanSeries(t);
    }

    private static WideFloat AtanSeries(WideFloat u)
    {
        if (u.IsZero)
        {
            return u;
        }

        var u2 = u * u;
        var sum = u;
        var power = u;
        for (var k = 1; k < 200; k++)
        {
            power = -(power * u2);
            var term = power / WideFloat.FromInt((2 * k) + 1);
            sum += term;
            if (term.IsZero || term.Exp < sum.Exp - 132)
            {
                break;
            }
        }

        return sum;
    }

    /// <summary>ln 2 = 2·atanh(1/3).</summary>
    private static WideFloat ComputeLn2() => Atanh(WideFloat.One / WideFloat.FromInt(3)).ScaleB(1);

    /// <summary>Machin: π = 16·atan(1/5) − 4·atan(1/239).</summary>
    private static WideFloat ComputePi()
    {
        var one = WideFloat.One;
        return AtanSeries(one / WideFloat.FromInt(5)).ScaleB(4) - AtanSeries(one / WideFloat.FromInt(239)).ScaleB(2);
    }
}
