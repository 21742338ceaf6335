namespace Virt.Cpu.Fpu;

public static partial class SoftFloat80
{
    /// <summary>
    /// x87 NaN selection (SDM vol. 1 table 4-7): an SNaN is quieted (raising IE); with two NaNs the
    /// one with the larger significand wins, ties going to the positive one; a QNaN beats an SNaN.
    /// </summary>
    internal static Float80 PropagateNaN(ref FloatContext c, Float80 a, Float80 b)
    {
        var aIsNaN = a.IsNaN;
        var bIsNaN = b.IsNaN;
        var aSignaling = a.IsSignalingNaN;
        var bSignaling = b.IsSignalingNaN;
        if (aSignaling || bSignaling)
        {
            c.Raise(X87ExceptionFlags.Invalid);
        }

        var qa = a.Quieted();
        var qb = b.Quieted();
        if (aSignaling)
        {
            if (bSignaling)
            {
                return Larger(qa, qb);
            }

            return bIsNaN ? qb : qa;
        }

        if (aIsNaN)
        {
            if (bSignaling || !bIsNaN)
            {
                return qa;
            }

            return Larger(qa, qb);
        }

        return qb;

        static Float80 Larger(Float80 x, Float80 y)
        {
            if (x.Significand != y.Significand)
            {
                return x.Significand > y.Significand ? x : y;
            }

            return x.SignExponent < y.SignExponent ? x : y;
        }
    }

    /// <summary>Handles unsupported encodings and NaNs common to two-operand operations; true when <paramref name="result"/> is final.</summary>
    private static bool SpecialOperands(ref FloatContext c, Float80 a, Float80 b, out Float80 result)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            result = Float80.Indefinite;
            return true;
        }

        if (a.IsNaN || b.IsNaN)
        {
            result = PropagateNaN(ref c, a, b);
            return true;
        }

        if (a.IsDenormal || b.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        result = default;
        return false;
    }

    /// <summary>Same as <see cref="SpecialOperands"/> for one operand.</summary>
    private static bool SpecialOperand(ref FloatContext c, Float80 a, out Float80 result)
    {
        if (a.IsUnsupported)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            result = Float80.Indefinite;
            return true;
        }

        if (a.IsNaN)
        {
            result = PropagateNaN(ref c, a, a);
            return true;
        }

        if (a.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        result = default;
        return false;
    }

    internal static Float80 InvalidResult(ref FloatContext c)
    {
        c.Raise(X87ExceptionFlags.Invalid);
        return Float80.Indefinite;
    }

    public static Float80 Add(ref FloatContext c, Float80 a, Float80 b) => AddSub(ref c, a, b, false);

    public static Float80 Sub(ref FloatContext c, Float80 a, Float80 b) => AddSub(ref c, a, b, true);

    private static Float80 AddSub(ref FloatContext c, Float80 a, Float80 b, bool negateB)
    {
        if (SpecialOperands(ref c, a, b, out var special))
        {
            return special;
        }

        var signA = a.Sign;
        var signB = b.Sign ^ negateB;
        if (a.IsInfinity)
        {
            return b.IsInfinity && signA != signB ? InvalidResult(ref c) : a;
        }

        if (b.IsInfinity)
        {
            return b.WithSign(signB);
        }

        var bits = c.SignificandBits;
        if (a.IsZero && b.IsZero)
        {
            return new Float80(signA == signB ? signA : c.Rounding == X87RoundingControl.Down, 0, 0);
        }

        // A zero operand still goes through rounding: precision control and unmasked underflow apply to x + 0.
        if (a.IsZero)
        {
            var (eb, sb) = Normalize(b);
            return RoundPack(ref c, signB, eb, sb, 0, bits);
        }

        if (b.IsZero)
        {
            var (ea, sa) = Normalize(a);
            return RoundPack(ref c, signA, ea, sa, 0, bits);
        }

        var (expA, sigA) = Normalize(a);
        var (expB, sigB) = Normalize(b);
        if (expA < expB || (expA == expB && sigA < sigB))
        {
            (expA, expB) = (expB, expA);
            (sigA, sigB) = (sigB, sigA);
            (signA, signB) = (signB, signA);
        }

        // Significands at bits 126..63 leave one bit of headroom for the carry of an addition and
        // 63 guard bits below, far more than exact rounding needs.
        var ma = (UInt128)sigA << 63;
        var mb = ShiftRightJam128((UInt128)sigB << 63, expA - expB);
        if (signA == signB)
        {
            return NormRoundPack128(ref c, signA, expA + 1, ma + mb, bits);
        }

        var difference = ma - mb;
        if (difference == 0)
        {
            return new Float80(c.Rounding == X87RoundingControl.Down, 0, 0);
        }

        return NormRoundPack128(ref c, signA, expA + 1, difference, bits);
    }

    public static Float80 Mul(ref FloatContext c, Float80 a, Float80 b)
    {
        if (SpecialOperands(ref c, a, b, out var special))
        {
            return special;
        }

        var sign = a.Sign ^ b.Sign;
        if (a.IsInfinity || b.IsInfinity)
        {
            return a.IsZero || b.IsZero ? InvalidResult(ref c) : new Float80(sign, Float80.MaxExponent, Float80.IntegerBit);
        }

        if (a.IsZero || b.IsZero)
        {
            return new Float80(sign, 0, 0);
        }

        var (expA, sigA) = Normalize(a);
        var (expB, sigB) = Normalize(b);
        var product = (UInt128)sigA * sigB;
        return NormRoundPack128(ref c, sign, expA + expB - Float80.Bias + 1, product, c.SignificandBits);
    }

    public static Float80 Div(ref FloatContext c, Float80 a, Float80 b)
    {
        if (SpecialOperands(ref c, a, b, out var special))
        {
            return special;
        }

        var sign = a.Sign ^ b.Sign;
        if (a.IsInfinity)
        {
            return b.IsInfinity ? InvalidResult(ref c) : new Float80(sign, Float80.MaxExponent, Float80.IntegerBit);
        }

        if (b.IsInfinity)
        {
            return new Float80(sign, 0, 0);
        }

        if (b.IsZero)
        {
            if (a.IsZero)
            {
                return InvalidResult(ref c);
            }

            // Measured on Intel: a denormal dividend does not also report DE when dividing by zero.
            c.Flags &= ~X87ExceptionFlags.Denormal;
            c.Raise(X87ExceptionFlags.ZeroDivide);
            return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit);
        }

        if (a.IsZero)
        {
            return new Float80(sign, 0, 0);
        }

        var (expA, sigA) = Normalize(a);
        var (expB, sigB) = Normalize(b);
        // Two 64-bit quotient digits: q1 = sigA·2^63 / sigB (62-64 bits), then the remainder's next 64 bits.
        var numerator = (UInt128)sigA << 63;
        var q1 = (ulong)(numerator / sigB);
        var r1 = (ulong)(numerator % sigB);
        var numerator2 = (UInt128)r1 << 64;
        var q2 = (ulong)(numerator2 / sigB);
        var r2 = (ulong)(numerator2 % sigB);
        var quotient = ((UInt128)q1 << 64) | q2 | (r2 != 0 ? 1UL : 0UL);
        return NormRoundPack128(ref c, sign, expA - expB + Float80.Bias, quotient, c.SignificandBits);
    }

    public static Float80 Sqrt(ref FloatContext c, Float80 a)
    {
        if (SpecialOperand(ref c, a, out var special))
        {
            return special;
        }

        if (a.IsZero)
        {
            return a;
        }

        if (a.Sign)
        {
            return InvalidResult(ref c);
        }

        if (a.IsInfinity)
        {
            return a;
        }

        var (exp, sig) = Normalize(a);
        // value = sig·2^(e−63); scale the radicand so the remaining power of two is even.
        var e = exp - Float80.Bias;
        var shift = ((e - 63 - 63) & 1) == 0 ? 63 : 64;
        var radicand = (UInt128)sig << shift;
        var halfExponent = (e - 63 - shift) / 2;
        var root = ISqrt(radicand);
        var remainder = radicand - (UInt128)root * root;
        // The next root bit is 1 when (root + ½)² ≤ radicand, i.e. remainder > root; it can never be an exact tie.
        ulong extra = remainder > root ? 0x8000_0000_0000_0001UL : remainder != 0 ? 1UL : 0UL;
        return RoundPack(ref c, false, halfExponent + 63 + Float80.Bias, root, extra, c.SignificandBits);
    }

    /// <summary>Integer square root of a radicand in [2^126, 2^128): a 64-bit root with bit 63 set.</summary>
    private static ulong ISqrt(UInt128 radicand)
    {
        ulong root = 0;
        for (var bit = 63; bit >= 0; bit--)
        {
            var candidate = root | (1UL << bit);
            if ((UInt128)candidate * candidate <= radicand)
            {
                root = candidate;
            }
        }

        return root;
    }

    /// <summary>FRNDINT: round to an integral value under RC (precision control does not apply).</summary>
    public static Float80 RoundToInt(ref FloatContext c, Float80 a)
    {
        if (SpecialOperand(ref c, a, out var special))
        {
            return special;
        }

        if (a.IsZero || a.IsInfinity)
        {
            return a;
        }

        var (exp, sig) = Normalize(a);
        var e = exp - Float80.Bias;
        if (e >= 63)
        {
            return a;
        }

        var sign = a.Sign;
        var increment = RoundingIncrement(c, sign, sig, e, out var inexact, out var truncated);
        if (!inexact)
        {
            return a;
        }

        c.Raise(X87ExceptionFlags.Precision);
        c.RoundedUp = increment;
        var magnitude = (UInt128)truncated + (increment ? 1UL : 0UL);
        if (magnitude == 0)
        {
            return new Float80(sign, 0, 0);
        }

        return NormRoundPack128(ref c, sign, Float80.Bias + 127, magnitude, 64);
    }

    /// <summary>
    /// Splits |sig·2^(e−63)| (e &lt; 63) into its integer part and decides
    /// whether RC rounds it up by one.
    /// </summary>
    private static bool RoundingIncrement(in FloatContext c, bool sign, ulong sig, int e, out bool inexact, out ulong truncated)
    {
        if (e < 0)
        {
            truncated = 0;
            inexact = true;
            // Only e == −1 reaches one half; exactly one half rounds to the even 0.
            return c.Rounding switch
            {
                X87RoundingControl.Nearest => e == -1 && sig > Float80.IntegerBit,
                X87RoundingControl.TowardZero => false,
                _ => c.DirectedAwayFromZero(sign),
            };
        }

        var fractionBits = 63 - e;
        var mask = (1UL << fractionBits) - 1;
        var fraction = sig & mask;
        truncated = sig >> fractionBits;
        inexact = fraction != 0;
        if (!inexact)
        {
            return false;
        }

        var half = 1UL << (fractionBits - 1);
        return c.Rounding switch
        {
            X87RoundingControl.Nearest => fraction > half || (fraction == half && (truncated & 1) != 0),
            X87RoundingControl.TowardZero => false,
            _ => c.DirectedAwayFromZero(sign),
        };
    }

    /// <summary>FSCALE: a·2^trunc(b), exact unless it overflows or underflows.</summary>
    public static Float80 Scale(ref FloatContext c, Float80 a, Float80 b)
    {
        if (SpecialOperands(ref c, a, b, out var special))
        {
            return special;
        }

        if (a.IsInfinity)
        {
            return b.IsInfinity && b.Sign ? InvalidResult(ref c) : a;
        }

        if (a.IsZero)
        {
            return b.IsInfinity && !b.Sign ? InvalidResult(ref c) : a;
        }

        if (b.IsInfinity)
        {
            return b.Sign ? new Float80(a.Sign, 0, 0) : new Float80(a.Sign, Float80.MaxExponent, Float80.IntegerBit);
        }

        var (expA, sigA) = Normalize(a);
        var n = 0;
        if (!b.IsZero)
        {
            var (expB, sigB) = Normalize(b);
            var e = expB - Float80.Bias;
            // Anything beyond ±2^16 already over/underflows every representable value.
            n = e < 0 ? 0 : e >= 17 ? 0x10000 : (int)(sigB >> (63 - e));
            if (b.Sign)
            {
                n = -n;
            }
        }

        return RoundPack(ref c, a.Sign, expA + n, sigA, 0, 64);
    }
}
