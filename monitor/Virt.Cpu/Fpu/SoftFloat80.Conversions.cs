using System.Numerics;

namespace Virt.Cpu.Fpu;

public static partial class SoftFloat80
{
    public static Float80 FromInt64(long value)
    {
        if (value == 0)
        {
            return Float80.PositiveZero;
        }

        var sign = value < 0;
        var magnitude = sign ? (ulong)-value : (ulong)value;
        var shift = BitOperations.LeadingZeroCount(magnitude);
        return new Float80(sign, Float80.Bias + 63 - shift, magnitude << shift);
    }

    /// <summary>
    /// Rounds a supported finite value to an integer magnitude under <paramref name="rounding"/>.
    /// Returns false (with no flags raised) when |a| ≥ 2^64, which no destination can hold.
    /// </summary>
    private static bool RoundToIntegerMagnitude(ref FloatContext c, Float80 a, X87RoundingControl rounding, out ulong magnitude, out bool inexact, out bool increment)
    {
        magnitude = 0;
        inexact = false;
        increment = false;
        if (a.IsZero)
        {
            return true;
        }

        var (exp, sig) = Normalize(a);
        var e = exp - Float80.Bias;
        if (e >= 64)
        {
            return false;
        }

        if (e == 63)
        {
            magnitude = sig;
            return true;
        }

        var rc = c with { Rounding = rounding };
        increment = RoundingIncrement(rc, a.Sign, sig, e, out inexact, out var truncated);
        if (increment && truncated == ulong.MaxValue)
        {
            return false;
        }

        magnitude = truncated + (increment ? 1UL : 0UL);
        return true;
    }

    /// <summary>
    /// FIST/FISTP/FISTTP: converts to a signed integer of <paramref name="bits"/> (16, 32, 64).
    /// NaNs, infinities, unsupported encodings and out-of-range values raise IE and give the
    /// integer indefinite (only the sign bit set).
    /// </summary>
    public static long ToInt(ref FloatContext c, Float80 a, int bits, bool truncate)
    {
        var indefinite = -1L << (bits - 1);
        if (a.IsUnsupported || a.IsNaN || a.IsInfinity)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            return indefinite;
        }

        // FIST/FBSTP do not report denormal operands (SDM lists no #D for them; confirmed on hardware).
        var rounding = truncate ? X87RoundingControl.TowardZero : c.Rounding;
        if (!RoundToIntegerMagnitude(ref c, a, rounding, out var magnitude, out var inexact, out var increment))
        {
            c.Raise(X87ExceptionFlags.Invalid);
            return indefinite;
        }

        var limit = 1UL << (bits - 1);
        if (a.Sign ? magnitude > limit : magnitude >= limit)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            return indefinite;
        }

        if (inexact)
        {
            c.Raise(X87ExceptionFlags.Precision);
            c.RoundedUp = increment;
        }

        return a.Sign ? (long)(0 - magnitude) : (long)magnitude;
    }

    /// <summary>
    /// Exact widening of an m32fp value. With <paramref name="quietSignaling"/> (FLD) an SNaN is
    /// quieted and raises IE; without it (arithmetic and compare operands) the SNaN is kept so the
    /// operation applies the x87 NaN rules to it.
    /// </summary>
    public static Float80 FromFloat32(ref FloatContext c, uint value, bool quietSignaling = true) =>
        FromNarrow(ref c, (value & 0x8000_0000) != 0, (int)((value >> 23) & 0xFF), value & 0x7F_FFFF, 23, 127, quietSignaling);

    /// <summary>Exact widening of an m64fp value; see <see cref="FromFloat32"/>.</summary>
    public static Float80 FromFloat64(ref FloatContext c, ulong value, bool quietSignaling = true) =>
        FromNarrow(ref c, (value >> 63) != 0, (int)((value >> 52) & 0x7FF), value & 0xF_FFFF_FFFF_FFFF, 52, 1023, quietSignaling);

    /// <summary>Exact widening; denormals raise DE.</summary>
    private static Float80 FromNarrow(ref FloatContext c, bool sign, int exp, ulong fraction, int fractionBits, int bias, bool quietSignaling)
    {
        var maxExp = (bias * 2) + 1;
        if (exp == maxExp)
        {
            if (fraction == 0)
            {
                return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit);
            }

            var payload = fraction << (63 - fractionBits);
            if (!quietSignaling)
            {
                return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | payload);
            }

            if ((payload & Float80.QuietBit) == 0)
            {
                c.Raise(X87ExceptionFlags.Invalid);
            }

            return new Float80(sign, Float80.MaxExponent, Float80.IntegerBit | Float80.QuietBit | payload);
        }

        if (exp == 0)
        {
            if (fraction == 0)
            {
                return new Float80(sign, 0, 0);
            }

            c.Raise(X87ExceptionFlags.Denormal);
            var shift = BitOperations.LeadingZeroCount(fraction);
            // value = fraction·2^(1−bias−fractionBits) = (fraction << shift)·2^(E−16383−63).
            return new Float80(sign, Float80.Bias + 63 + 1 - bias - fractionBits - shift, fraction << shift);
        }

        return new Float80(sign, exp - bias + Float80.Bias, Float80.IntegerBit | (fraction << (63 - fractionBits)));
    }

    public static uint ToFloat32(ref FloatContext c, Float80 a) => (uint)ToNarrow(ref c, a, 23, 127);

    public static ulong ToFloat64(ref FloatContext c, Float80 a) => ToNarrow(ref c, a, 52, 1023);

    /// <summary>FST m32fp/m64fp: rounds under RC into the narrower format (precision control does not apply).</summary>
    private static ulong ToNarrow(ref FloatContext c, Float80 a, int fractionBits, int bias)
    {
        var maxExp = (ulong)((bias * 2) + 1);
        var signBit = a.Sign ? 1UL << (fractionBits + (fractionBits == 23 ? 8 : 11)) : 0UL;
        var fractionMask = (1UL << fractionBits) - 1;
        var quiet = 1UL << (fractionBits - 1);
        if (a.IsUnsupported)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            return ToNarrow(ref c, Float80.Indefinite, fractionBits, bias);
        }

        if (a.IsNaN)
        {
            if (a.IsSignalingNaN)
            {
                c.Raise(X87ExceptionFlags.Invalid);
            }

            return signBit | (maxExp << fractionBits) | quiet | ((a.Significand >> (63 - fractionBits)) & fractionMask);
        }

        if (a.IsInfinity)
        {
            return signBit | (maxExp << fractionBits);
        }

        if (a.IsZero)
        {
            return signBit;
        }

        // FST m32/m64 does not report denormal operands (no #D in the SDM; confirmed on hardware).
        var (exp, sig) = Normalize(a);
        return signBit | RoundNarrow(ref c, a.Sign, exp - Float80.Bias, sig, fractionBits, bias);
    }

    /// <summary>Rounds sig·2^(e−63) (sig normalised) to an IEEE format; returns the encoding without the sign.</summary>
    private static ulong RoundNarrow(ref FloatContext c, bool sign, int e, ulong sig, int fractionBits, int bias)
    {
        var maxExp = (bias * 2) + 1;
        var biased = e + bias;
        var drop = 63 - fractionBits;
        var tiny = false;
        if (biased <= 0)
        {
            // Tininess after rounding: tiny unless rounding to full precision reaches the smallest normal.
            var (keptAtFull, incAtFull, _) = RoundShift(c, sign, sig, drop);
            tiny = biased < 0 || !(incAtFull && keptAtFull == (1UL << (fractionBits + 1)) - 1);
            if (tiny && !c.IsMasked(X87ExceptionFlags.Underflow))
            {
                // The store is suppressed by the caller; the value is irrelevant.
                c.Raise(X87ExceptionFlags.Underflow);
                return 0;
            }

            drop += 1 - biased;
            biased = 0;
        }
        else if (biased >= maxExp)
        {
            return NarrowOverflow(ref c, sign, fractionBits, maxExp);
        }

        var (kept, increment, inexact) = RoundShift(c, sign, sig, drop);
        if (inexact)
        {
            c.Raise(X87ExceptionFlags.Precision);
            if (tiny)
            {
                c.Raise(X87ExceptionFlags.Underflow);
            }

            c.RoundedUp = increment;
        }

        if (increment)
        {
            kept++;
        }

        if (biased == 0)
        {
            // A carry into bit fractionBits is exactly the smallest normal's encoding.
            return kept;
        }

        if (kept == 1UL << (fractionBits + 1))
        {
            kept >>= 1;
            biased++;
            if (biased >= maxExp)
            {
                return NarrowOverflow(ref c, sign, fractionBits, maxExp);
            }
        }

        return ((ulong)biased << fractionBits) | (kept & ((1UL << fractionBits) - 1));
    }

    private static ulong NarrowOverflow(ref FloatContext c, bool sign, int fractionBits, int maxExp)
    {
        if (!c.IsMasked(X87ExceptionFlags.Overflow))
        {
            c.Raise(X87ExceptionFlags.Overflow);
            return 0;
        }

        c.Raise(X87ExceptionFlags.Overflow | X87ExceptionFlags.Precision);
        if (c.Rounding == X87RoundingControl.Nearest || c.DirectedAwayFromZero(sign))
        {
            c.RoundedUp = true;
            return (ulong)maxExp << fractionBits;
        }

        c.RoundedUp = false;
        return ((ulong)(maxExp - 1) << fractionBits) | ((1UL << fractionBits) - 1);
    }

    /// <summary>Drops the low <paramref name="drop"/> bits of sig, deciding the rounding increment under RC.</summary>
    private static (ulong Kept, bool Increment, bool Inexact) RoundShift(in FloatContext c, bool sign, ulong sig, int drop)
    {
        ulong kept;
        bool aboveHalf;
        bool atHalf;
        bool inexact;
        if (drop >= 64)
        {
            kept = 0;
            inexact = sig != 0;
            aboveHalf = drop == 64 && sig > Float80.IntegerBit;
            atHalf = drop == 64 && sig == Float80.IntegerBit;
        }
        else
        {
            kept = sig >> drop;
            var fraction = sig & ((1UL << drop) - 1);
            var half = 1UL << (drop - 1);
            inexact = fraction != 0;
            aboveHalf = fraction > half;
            atHalf = fraction == half;
        }

        var increment = c.Rounding switch
        {
            X87RoundingControl.Nearest => aboveHalf || (atHalf && (kept & 1) != 0),
            X87RoundingControl.TowardZero => false,
            _ => inexact && c.DirectedAwayFromZero(sign),
        };
        return (kept, increment, inexact);
    }
}
