namespace Virt.Devices.Common;

/// <summary>Packed binary-coded decimal, as the RTC and the PIT's BCD counting mode use it.</summary>
public static class Bcd
{
    /// <summary>0-99 to two packed BCD digits.</summary>
    public static byte FromBinary(int value) => (byte)(((value / 10) << 4) | (value % 10));

    /// <summary>Two packed BCD digits to 0-99; invalid nibbles are taken at face value (as hardware adders do).</summary>
    public static int ToBinary(byte value) => (value >> 4) * 10 + (value & 0x0F);

    /// <summary>0-9999 to four packed BCD digits.</summary>
    public static int FromBinary16(int value) =>
        ((value / 1000 % 10) << 12) | ((value / 100 % 10) << 8) | ((value / 10 % 10) << 4) | (value % 10);

    /// <summary>Four packed BCD digits to 0-9999 (invalid nibbles taken at face value).</summary>
    public static int ToBinary16(int value) =>
        ((value >> 12) & 0xF) * 1000 + ((value >> 8) & 0xF) * 100 + ((value >> 4) & 0xF) * 10 + (value & 0xF);
}
