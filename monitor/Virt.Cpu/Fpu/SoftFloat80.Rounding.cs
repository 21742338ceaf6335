using System.Numerics;

namespace Virt.Cpu.Fpu;

/// <summary>
/// Exactly rounded x87 extended arithmetic in software, modelled on Berkeley SoftFloat 3's extF80
/// routines and extended with the x87 specifics: precision control, tininess detected after
/// rounding (as measured on Intel hardware), the denormal-operand flag, 387+ unsupported encodings,
/// x87 NaN selection, C1 round-up reporting and the biased results of unmasked overflow/underflow.
/// </summary>
public static partial class SoftFloat80
{
    /// <summary>Exponent adjustment of x87 results delivered with unmasked overflow or underflow.</summary>
    private const int UnmaskedBiasAdjust = 0x6000;

    /// <summary>
    /// Rounds sig:extra (sig normalised so bit 63 is the integer bit, the value being
    /// sig·2^(exp−16383−63) plus extra as a fraction below it) to <paramref name="bits"/> significand
    /// bits in the extended exponent range.
    /// </summary>
    internal static Float80 RoundPack(ref FloatContext c, bool sign, int exp, ulong sig, ulong extra, int bits)
    {
        return bits == 64 ? RoundPack64(ref c, sign, exp, sig, extra) : RoundPackReduced(ref c, sign, exp, sig, extra, bits);
    }

    /// <summary>Normalises a 128-bit significand (value = m·2^(exp0−16383−127)) and rounds it.</summary>
    internal static Float80 NormRoundPack128(ref FloatContext c, bool sign, int exp0, UInt128 m, int bits)
    {
        if (m == 0)
        {
            return new Float80(sign, 0, 0);
        }

        var shift = (int)UInt128.LeadingZeroCount(m);
        m <<= shift;
        return RoundPack(ref c, sign, exp0 - shift, (ulong)(m >> 64), (ulong)m, bits);
    }

    private static Float80 RoundPack64(ref FloatContext c, bool sign, int exp, ulong sig, ulong extra)
    {
        var nearEven = c.Rounding == X87RoundingControl.Nearest;
        var increment = nearEven ? extra >= Float80.IntegerBit : c.DirectedAwayFromZero(sign) && extra != 0;
        if ((uint)(exp - 1) >= 0x7FFD)
        {
            if (exp <= 0)
            {
                // Tininess after rounding: only a value that rounds up into the smallest normal escapes.
                var isTiny = exp < 0 || !increment || sig != ulong.MaxValue;
                if (isTiny && !c.IsMasked(X87ExceptionFlags.Underflow))
                {
                    if (exp + UnmaskedBiasAdjust <= 0)
                    {
                        return UnmaskedOutOfRange(ref c, sign, overflow: false);
                    }

                    c.Raise(X87ExceptionFlags.Underflow);
                    return RoundNormal64(ref c, sign, exp + UnmaskedBiasAdjust, sig, extra, increment, nearEven);
                }

                (sig, extra) = ShiftRightJam64Extra(sig, extra, 1 - exp);
                if (extra != 0)
                {
                    if (isTiny)
                    {
                        c.Raise(X87ExceptionFlags.Underflow);
                    }

                    c.Raise(X87ExceptionFlags.Precision);
                }

                increment = nearEven ? extra >= Float80.IntegerBit : c.DirectedAwayFromZero(sign) && extra != 0;
                var original = sig;
                if (increment)
                {
                    ++sig;
                    if (nearEven && (extra << 1) == 0)
                    {
                        sig &= ~1UL;
                    }
                }

                c.RoundedUp = sig != original;
                return new Float80(sign, (sig & Float80.IntegerBit) != 0 ? 1 : 0, sig);
            }

            if (exp > 0x7FFE || (exp == 0x7FFE && sig == ulong.MaxValue && increment))
            {
                if (!c.IsMasked(X87ExceptionFlags.Overflow))
                {
                    if (exp - UnmaskedBiasAdjust >= 0x7FFE)
                    {
                        return UnmaskedOutOfRange(ref c, sign, overflow: true);
                    }

                    c.Raise(X87ExceptionFlags.Overflow);
                    return RoundNormal64(ref c, sign, exp - UnmaskedBiasAdjust, sig, extra, increment, nearEven);
                }

                return Overflow(ref c, sign, ulong.MaxValue);
            }
        }

        return RoundNormal64(ref c, sign, exp, sig, extra, increment, nearEven);
    }

    private static Float80 RoundNormal64(ref FloatContext c, bool sign, int exp, ulong sig, ulong extra, bool increment, bool nearEven)
    {
        if (extra != 0)
        {
            c.Raise(X87ExceptionFlags.Precision);
        }

        if (increment)
        {
            var original = sig;
            ++sig;
            if (sig == 0)
            {
                ++exp;
                sig = Float80.IntegerBit;
                c.RoundedUp = true;
            }
            else
            {
                if (nearEven && (extra << 1) == 0)
                {
                    sig &= ~1UL;
                }

                c.RoundedUp = sig != original;
            }
        }

        return new Float80(sign, exp, sig);
    }

    private static Float80 RoundPackReduced(ref FloatContext c, bool sign, int exp, ulong sig, ulong extra, int bits)
    {
        var roundMask = bits == 53 ? 0x7FFUL : 0xFF_FFFF_FFFFUL;
        var nearEven = c.Rounding == X87RoundingControl.Nearest;
        var roundIncrement = nearEven ? (roundMask + 1) >> 1 : c.DirectedAwayFromZero(sign) ? roundMask : 0;
        if (extra != 0)
        {
            sig |= 1;
        }

        if ((uint)(exp - 1) >= 0x7FFD)
        {
            if (exp <= 0)
            {
                var isTiny = exp < 0 || sig + roundIncrement >= sig;
                if (isTiny && !c.IsMasked(X87ExceptionFlags.Underflow))
                {
                    if (exp + UnmaskedBiasAdjust <= 0)
                    {
                        return UnmaskedOutOfRange(ref c, sign, overflow: false);
                    }

                    c.Raise(X87ExceptionFlags.Underflow);
                    return RoundNormalReduced(ref c, sign, exp + UnmaskedBiasAdjust, sig, roundMask, roundIncrement, nearEven);
                }

                sig = ShiftRightJam64(sig, 1 - exp);
                var roundBits = sig & roundMask;
                if (roundBits != 0)
                {
                    if (isTiny)
                    {
                        c.Raise(X87ExceptionFlags.Underflow);
                    }

                    c.Raise(X87ExceptionFlags.Precision);
                }

                var truncated = sig & ~roundMask;
                sig += roundIncrement;
                var newExp = (sig & Float80.IntegerBit) != 0 ? 1 : 0;
                var unit = roundMask + 1;
                if (nearEven && roundBits << 1 == unit)
                {
                    roundMask |= unit;
                }

                sig &= ~roundMask;
                c.RoundedUp = sig > truncated;
                return new Float80(sign, newExp, sig);
            }

            if (exp > 0x7FFE || (exp == 0x7FFE && sig + roundIncrement < sig))
            {
                if (!c.IsMasked(X87ExceptionFlags.Overflow))
                {
                    if (exp - UnmaskedBiasAdjust >= 0x7FFE)
                    {
                        return UnmaskedOutOfRange(ref c, sign, overflow: true);
                    }

                    c.Raise(X87ExceptionFlags.Overflow);
                    return RoundNormalReduced(ref c, sign, exp - UnmaskedBiasAdjust, sig, roundMask, roundIncrement, nearEven);
                }

                return Overflow(ref c, sign, ~roundMask);
            }
        }

        return RoundNormalReduced(ref c, sign, exp, sig, roundMask, roundIncrement, nearEven);
    }

    private static Float80 RoundNormalReduced(ref FloatContext c, bool sign, int exp, ulong sig, ulong roundMask, ulong roundIncrement, bool nearEven)
    {
        var roundBits = sig & roundMask;
        if (roundBits != 0)
        {
            c.Raise(X87ExceptionFlags.Precision);
        }

        var truncated = sig & ~roundMask;
        sig += roundIncrement;
        if (sig < roundIncrement)
        {
            ++exp;
            sig = Float80.IntegerBit;
            c.RoundedUp = true;
            return new Float80(sign, exp, sig);
        }

        var unit = roundMask + 1;
        if (nearEven && roundBits << 1 == unit)
        {
            roundMask |= unit;
        }

        sig &= ~roundMask;
        c.RoundedUp = sig > truncated;
        return new Float80(sign, exp, sig);
    }

    /// <summary>
    /// Unmasked overflow/underflow so large that even the ∓24576 bias adjustment cannot bring the
    /// result into range (only FSCALE gets there): Intel hardware delivers ±∞ or ±0 whatever RC says.
    /// </summary>
    private static Float80 UnmaskedOutOfRange(ref FloatContext c, bool sign, bool overflow)
    {
        c.Raise((overflow ? X87ExceptionFlags.Overflow : X87ExceptionFlags.Underflow) | X87ExceptionFlags.Precision);
        c.RoundedUp = overflow;
        return overflow ? new Float80(sign, Float80.MaxExponent, Float80.IntegerBit) : new Float80(sign, 0, 0);
    }

    /// <summary>Masked overflow: infinity, or the largest finite value when rounding toward zero for this sign.</summary>
    private static Float80 Overflow(ref FloatContext c, bool sign, ulong largestSignificand)
    {
        c.Raise(X87ExceptionFlags.Overflow | X87ExceptionFlags.Precision);
        if (c.Rounding == X87RoundingControl.Nearest || c.DirectedAwayFromZero(sign))
        {
            c.RoundedUp = true;
            return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit);
        }

        c.RoundedUp = false;
        return new Float80(sign, 0x7FFE, largestSignificand);
    }

    internal static ulong ShiftRightJam64(ulong a, int distance) =>
        distance < 63 ? (a >> distance) | ((a << (-distance & 63)) != 0 && distance != 0 ? 1UL : 0) : (a != 0 ? 1UL : 0);

    internal static (ulong Value, ulong Extra) ShiftRightJam64Extra(ulong a, ulong extra, int distance)
    {
        if (distance == 0)
        {
            return (a, extra);
        }

        if (distance < 64)
        {
            return (a >> distance, (a << (64 - distance)) | (extra != 0 ? 1UL : 0));
        }

        var newExtra = distance == 64 ? a : (a != 0 ? 1UL : 0);
        return (0, newExtra | (extra != 0 ? 1UL : 0));
    }

    internal static UInt128 ShiftRightJam128(UInt128 a, int distance)
    {
        if (distance == 0)
        {
            return a;
        }

        if (distance >= 128)
        {
            return a != 0 ? UInt128.One : UInt128.Zero;
        }

        var lost = a << (128 - distance);
        return (a >> distance) | (lost != 0 ? UInt128.One : UInt128.Zero);
    }

    /// <summary>Normalised significand and exponent of a finite nonzero value; denormals get exponents below 1.</summary>
    internal static (int Exp, ulong Sig) Normalize(Float80 a)
    {
        var exp = a.Exponent == 0 ? 1 : a.Exponent;
        var shift = BitOperations.LeadingZeroCount(a.Significand);
        return (exp - shift, a.Significand << shift);
    }
}
