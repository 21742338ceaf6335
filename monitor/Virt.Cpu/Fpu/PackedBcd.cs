namespace Virt.Cpu.Fpu;

/// <summary>
/// The x87 80-bit packed BCD format of FBLD/FBSTP: 18 digits, two per byte in bytes 0-8 (least
/// significant first, low nibble first), sign in bit 7 of byte 9.
/// </summary>
public static class PackedBcd
{
    public const int Size = 10;
    private const ulong Limit = 1_000_000_000_000_000_000UL;

    /// <summary>FBLD: exact conversion. Nibbles above 9 are undefined on hardware; here they weigh as their binary value.</summary>
    public static Float80 ToFloat80(ReadOnlySpan<byte> bcd)
    {
        ulong value = 0;
        for (var i = 8; i >= 0; i--)
        {
            value = (value * 100) + ((ulong)(bcd[i] >> 4) * 10) + (ulong)(bcd[i] & 0xF);
        }

        var sign = (bcd[9] & 0x80) != 0;
        return SoftFloat80.FromInt64((long)value).WithSign(sign);
    }

    /// <summary>
    /// FBSTP: rounds under RC; NaNs, infinities, unsupported encodings and magnitudes of 10^18 or
    /// more raise IE and store the BCD indefinite. The sign of the source is kept, even for −0.
    /// </summary>
    public static void FromFloat80(ref FloatContext c, Float80 a, Span<byte> bcd)
    {
        var value = SoftFloat80.ToInt(ref c, a, 64, false);
        var magnitude = value == long.MinValue ? ulong.MaxValue : (ulong)Math.Abs(value);
        if ((c.Flags & X87ExceptionFlags.Invalid) != 0 || magnitude >= Limit)
        {
            c.Flags = (c.Flags & X87ExceptionFlags.Denormal) | X87ExceptionFlags.Invalid;
            c.RoundedUp = false;
            WriteIndefinite(bcd);
            return;
        }

        for (var i = 0; i < 9; i++)
        {
            var low = magnitude % 10;
            magnitude /= 10;
            var high = magnitude % 10;
            magnitude /= 10;
            bcd[i] = (byte)((high << 4) | low);
        }

        bcd[9] = a.Sign ? (byte)0x80 : (byte)0;
    }

    public static void WriteIndefinite(Span<byte> bcd)
    {
        bcd[..7].Clear();
        bcd[7] = 0xC0;
        bcd[8] = 0xFF;
        bcd[9] = 0xFF;
    }
}
