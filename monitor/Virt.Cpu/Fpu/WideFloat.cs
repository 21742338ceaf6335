namespace Virt.Cpu.Fpu;

/// <summary>
/// A 128-bit-significand binary float with an unbounded (int) exponent, used only inside the
/// transcendental instructions: value = Mant·2^(Exp−127), Mant normalised (bit 127 set) or zero.
/// Operations truncate, so each loses at most about one unit in bit 127; a series of a few dozen
/// steps still leaves well over 110 correct bits before the final rounding to 64.
/// </summary>
internal readonly struct WideFloat
{
    public readonly UInt128 Mant;
    public readonly int Exp;
    public readonly bool Sign;

    public WideFloat(bool sign, int exp, UInt128 mant)
    {
        if (mant == 0)
        {
            Sign = sign;
            Exp = int.MinValue / 2;
            Mant = 0;
            return;
        }

        var shift = (int)UInt128.LeadingZeroCount(mant);
        Sign = sign;
        Exp = exp - shift;
        Mant = mant << shift;
    }

    public static WideFloat Zero => new(false, 0, 0);
    public static WideFloat One => FromInt(1);

    public bool IsZero => Mant == 0;

    public static WideFloat FromInt(long value) =>
        new(value < 0, 127, value < 0 ? (UInt128)(ulong)-value : (UInt128)(ulong)value);

    /// <summary>Exact conversion of a finite supported value.</summary>
    public static WideFloat FromFloat80(Float80 a)
    {
        if (a.IsZero)
        {
            return new WideFloat(a.Sign, 0, 0);
        }

        var (exp, sig) = SoftFloat80.Normalize(a);
        return new WideFloat(a.Sign, exp - Float80.Bias, (UInt128)sig << 64);
    }

    /// <summary>Exact conversion of a signed 128-bit integer times 2^scale.</summary>
    public static WideFloat FromInt128(Int128 value, int scale)
    {
        var negative = value < 0;
        var magnitude = negative ? (UInt128)(-value) : (UInt128)value;
        return new WideFloat(negative, 127 + scale, magnitude);
    }

    /// <summary>Rounds to extended precision under the context's RC.</summary>
    public Float80 ToFloat80(ref FloatContext c) =>
        IsZero ? new Float80(Sign, 0, 0) : SoftFloat80.NormRoundPack128(ref c, Sign, Exp + Float80.Bias, Mant, 64);

    public WideFloat Negate() => new(!Sign, Exp + 0, Mant, normalized: true);

    public WideFloat Abs() => new(false, Exp, Mant, normalized: true);

    public WideFloat ScaleB(int n) => IsZero ? this : new(Sign, Exp + n, Mant, normalized: true);

    private WideFloat(bool sign, int exp, UInt128 mant, bool normalized)
    {
        _ = normalized;
        Sign = sign;
        Exp = exp;
        Mant = mant;
    }

    public static WideFloat operator -(WideFloat a) => a.Negate();

    public static WideFloat operator +(WideFloat a, WideFloat b)
    {
        if (a.IsZero)
        {
            return b;
        }

        if (b.IsZero)
        {
            return a;
        }

        if (a.Exp < b.Exp || (a.Exp == b.Exp && a.Mant < b.Mant))
        {
            (a, b) = (b, a);
        }

        var distance = a.Exp - b.Exp;
        // One bit of headroom for a carry.
        // Shifted-out bits are jammed into bit 0 so that a nonzero tail keeps the sum inexact (PE, directed rounding).
        var ma = (a.Mant >> 1) | (a.Mant & 1);
        var mb = SoftFloat80.ShiftRightJam128(b.Mant, distance + 1);
        return a.Sign == b.Sign ? new WideFloat(a.Sign, a.Exp + 1, ma + mb) : new WideFloat(a.Sign, a.Exp + 1, ma - mb);
    }

    public static WideFloat operator -(WideFloat a, WideFloat b) => a + b.Negate();

    public static WideFloat operator *(WideFloat a, WideFloat b)
    {
        if (a.IsZero || b.IsZero)
        {
            return new WideFloat(a.Sign ^ b.Sign, 0, 0);
        }

        var aHigh = (ulong)(a.Mant >> 64);
        var aLow = (ulong)a.Mant;
        var bHigh = (ulong)(b.Mant >> 64);
        var bLow = (ulong)b.Mant;
        var highHigh = (UInt128)aHigh * bHigh;
        var highLow = (UInt128)aHigh * bLow;
        var lowHigh = (UInt128)aLow * bHigh;
        var lowLow = (UInt128)aLow * bLow;
        var middle = (UInt128)(ulong)highLow + (ulong)lowHigh + (ulong)(lowLow >> 64);
        var top = highHigh + (highLow >> 64) + (lowHigh >> 64) + (middle >> 64);
        return new WideFloat(a.Sign ^ b.Sign, a.Exp + b.Exp + 1, top);
    }

    public static WideFloat operator /(WideFloat a, WideFloat b)
    {
        if (a.IsZero)
        {
            return new WideFloat(a.Sign ^ b.Sign, 0, 0);
        }

        if (b.IsZero)
        {
            throw new DivideByZeroException("WideFloat division by zero");
        }

        // Restoring division: quotient bits for 2^0 down to 2^−127 of Mant(a)/Mant(b) ∈ (½, 2). The
        // partial remainder stays below 2·divisor < 2^129; its bit 128 is kept in "high".
        var remainder = a.Mant;
        var divisor = b.Mant;
        var high = false;
        UInt128 quotient = 0;
        for (var i = 0; i < 128; i++)
        {
            quotient <<= 1;
            if (high || remainder >= divisor)
            {
                remainder -= divisor;
                quotient |= 1;
            }

            high = (remainder >> 127) != 0;
            remainder <<= 1;
        }

        // A nonzero remainder is jammed into bit 0 so an inexact quotient never looks exact.
        if (high || remainder != 0)
        {
            quotient |= 1;
        }

        return new WideFloat(a.Sign ^ b.Sign, a.Exp - b.Exp, quotient);
    }

    public static bool operator <(WideFloat a, WideFloat b) => Compare(a, b) < 0;

    public static bool operator >(WideFloat a, WideFloat b) => Compare(a, b) > 0;

    private static int Compare(WideFloat a, WideFloat b)
    {
        var difference = a - b;
        return difference.IsZero ? 0 : difference.Sign ? -1 : 1;
    }

    public override string ToString() => $"{(Sign ? "-" : "")}{Mant:X32}p{Exp - 127}";

    internal double ToDouble() => IsZero ? 0 : (Sign ? -1 : 1) * double.ScaleB((double)(Mant >> 64), Exp - 63);
}
