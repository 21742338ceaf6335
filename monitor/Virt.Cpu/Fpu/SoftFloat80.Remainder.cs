namespace Virt.Cpu.Fpu;

public static partial class SoftFloat80
{
    /// <summary>
    /// FPREM (<paramref name="nearest"/> false: truncated quotient) and FPREM1 (IEEE remainder).
    /// When the exponents differ by 64 or more only a partial reduction is done, as on Intel
    /// hardware: the dividend is reduced modulo b·2^(d−n) with n = 32 + (d mod 32), so the result's
    /// exponent falls below the next multiple of 32 (<paramref name="partial"/> set, quotient bits 0).
    /// Otherwise the low three quotient bits are returned. The result is exact.
    /// </summary>
    public static Float80 Remainder(ref FloatContext c, Float80 a, Float80 b, bool nearest, out ulong quotient, out bool partial)
    {
        quotient = 0;
        partial = false;
        if (SpecialOperands(ref c, a, b, out var special))
        {
            return special;
        }

        if (a.IsInfinity || b.IsZero)
        {
            return InvalidResult(ref c);
        }

        if (a.IsZero || b.IsInfinity)
        {
            return a;
        }

        var (expA, sigA) = Normalize(a);
        var (expB, sigB) = Normalize(b);
        var difference = expA - expB;
        if (difference < -1 || (difference < 0 && !nearest))
        {
            return RoundPack(ref c, a.Sign, expA, sigA, 0, 64);
        }

        var shift = difference;
        var resultExp = expB;
        if (difference >= 64)
        {
            partial = true;
            shift = (difference & 31) | 32;
            resultExp = expA - shift;
            nearest = false;
        }

        if (shift < 0)
        {
            // FPREM1 with |a| in [|b|/4, |b|): the quotient is 1 exactly when 2|a| > |b|, i.e. sigA > sigB.
            if (sigA > sigB)
            {
                quotient = 1;
                return NormRoundPack128(ref c, !a.Sign, expA + 64, ((UInt128)sigB << 1) - sigA, 64);
            }

            return RoundPack(ref c, a.Sign, expA, sigA, 0, 64);
        }

        var numerator = (UInt128)sigA << shift;
        var q = (ulong)(numerator / sigB);
        var r = (ulong)(numerator % sigB);
        var sign = a.Sign;
        if (nearest && (r > sigB - r || (r == sigB - r && (q & 1) != 0)))
        {
            q++;
            r = sigB - r;
            sign = !sign;
        }

        quotient = partial ? 0 : q;
        if (r == 0)
        {
            return new Float80(a.Sign, 0, 0);
        }

        return NormRoundPack128(ref c, sign, resultExp + 64, r, 64);
    }

    /// <summary>FXTRACT: splits a into its unbiased exponent (returned) and significand with a's sign (out).</summary>
    public static Float80 Extract(ref FloatContext c, Float80 a, out Float80 significand)
    {
        if (a.IsUnsupported)
        {
            significand = Float80.Indefinite;
            return InvalidResult(ref c);
        }

        if (a.IsNaN)
        {
            significand = PropagateNaN(ref c, a, a);
            return significand;
        }

        if (a.IsInfinity)
        {
            significand = a;
            return Float80.PositiveInfinity;
        }

        if (a.IsZero)
        {
            c.Raise(X87ExceptionFlags.ZeroDivide);
            significand = a;
            return Float80.NegativeInfinity;
        }

        if (a.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        var (exp, sig) = Normalize(a);
        significand = new Float80(a.Sign, Float80.Bias, sig);
        return FromInt64(exp - Float80.Bias);
    }
}
