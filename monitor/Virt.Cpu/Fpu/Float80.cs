using System.Buffers.Binary;
using System.Globalization;

namespace Virt.Cpu.Fpu;

/// <summary>
/// The raw x87 80-bit extended-precision value: sign, 15-bit biased exponent and a 64-bit
/// significand whose bit 63 is the explicit integer ("J") bit. Every bit pattern is representable,
/// including the encodings a 387+ rejects (unnormals, pseudo-NaNs, pseudo-infinities), because
/// registers and FSTP m80/FLD m80 must carry them unchanged.
/// </summary>
public readonly struct Float80 : IEquatable<Float80>
{
    public const int Bias = 16383;
    public const int MaxExponent = 0x7FFF;
    public const ulong IntegerBit = 0x8000_0000_0000_0000;
    public const ulong QuietBit = 0x4000_0000_0000_0000;

    /// <summary>Bit 15 is the sign, bits 14-0 the biased exponent (the top 16 bits of the 80-bit value).</summary>
    public readonly ushort SignExponent;
    public readonly ulong Significand;

    public Float80(ushort signExponent, ulong significand)
    {
        SignExponent = signExponent;
        Significand = significand;
    }

    public Float80(bool sign, int biasedExponent, ulong significand)
    {
        SignExponent = (ushort)((sign ? 0x8000 : 0) | (biasedExponent & 0x7FFF));
        Significand = significand;
    }

    public static Float80 PositiveZero => new(0, 0);
    public static Float80 NegativeZero => new(0x8000, 0);
    public static Float80 One => new(0x3FFF, IntegerBit);
    public static Float80 PositiveInfinity => new(0x7FFF, IntegerBit);
    public static Float80 NegativeInfinity => new(0xFFFF, IntegerBit);

    /// <summary>The "real indefinite" QNaN the x87 delivers as the masked response to an invalid operation.</summary>
    public static Float80 Indefinite => new(0xFFFF, 0xC000_0000_0000_0000);

    public bool Sign => (SignExponent & 0x8000) != 0;
    public int Exponent => SignExponent & 0x7FFF;

    public bool IsZero => Exponent == 0 && Significand == 0;
    /// <summary>Exponent 0 and a nonzero significand: true denormals and pseudo-denormals (J = 1).</summary>
    public bool IsDenormal => Exponent == 0 && Significand != 0;
    public bool IsPseudoDenormal => Exponent == 0 && (Significand & IntegerBit) != 0;
    /// <summary>Encodings a 387+ treats as invalid operands: nonzero exponent with J = 0 (unnormals, pseudo-NaNs, pseudo-infinities).</summary>
    public bool IsUnsupported => Exponent != 0 && (Significand & IntegerBit) == 0;
    public bool IsInfinity => Exponent == MaxExponent && Significand == IntegerBit;
    public bool IsNaN => Exponent == MaxExponent && (Significand & IntegerBit) != 0 && (Significand << 1) != 0;
    public bool IsSignalingNaN => IsNaN && (Significand & QuietBit) == 0;
    public bool IsQuietNaN => IsNaN && (Significand & QuietBit) != 0;
    /// <summary>A finite value the arithmetic accepts: zero, denormal, pseudo-denormal or normal.</summary>
    public bool IsFinite => Exponent != MaxExponent && !IsUnsupported;

    public Float80 Negate() => new((ushort)(SignExponent ^ 0x8000), Significand);
    public Float80 Abs() => new((ushort)(SignExponent & 0x7FFF), Significand);
    public Float80 WithSign(bool sign) => new(sign, Exponent, Significand);
    internal Float80 Quieted() => new(SignExponent, Significand | QuietBit);

    /// <summary>The 10-byte little-endian memory image (significand first), as FSTP m80 stores it.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Significand);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], SignExponent);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[10];
        WriteTo(bytes);
        return bytes;
    }

    public static Float80 FromBytes(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt16LittleEndian(source[8..]), BinaryPrimitives.ReadUInt64LittleEndian(source));

    /// <summary>Exact conversion from a host double (for tests and constants); NaN payloads keep their top bits.</summary>
    public static Float80 FromDouble(double value)
    {
        var context = new FloatContext(X87RoundingControl.Nearest, X87PrecisionControl.Extended, X87ExceptionFlags.All);
        return SoftFloat80.FromFloat64(ref context, BitConverter.DoubleToUInt64Bits(value));
    }

    /// <summary>Rounded-to-nearest conversion to a host double, for diagnostics and tests.</summary>
    public double ToDouble()
    {
        var context = new FloatContext(X87RoundingControl.Nearest, X87PrecisionControl.Extended, X87ExceptionFlags.All);
        return BitConverter.UInt64BitsToDouble(SoftFloat80.ToFloat64(ref context, this));
    }

    public bool Equals(Float80 other) => SignExponent == other.SignExponent && Significand == other.Significand;
    public override bool Equals(object? obj) => obj is Float80 other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(SignExponent, Significand);
    public static bool operator ==(Float80 left, Float80 right) => left.Equals(right);
    public static bool operator !=(Float80 left, Float80 right) => !left.Equals(right);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{SignExponent:X4}:{Significand:X16} ({ToDouble():R})");
}
