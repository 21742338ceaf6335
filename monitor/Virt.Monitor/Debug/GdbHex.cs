using System.Text;

namespace Virt.Monitor.Debug;

/// <summary>
/// The hex of the GDB remote protocol: numbers big-endian in ASCII hex ("m1000,40"), register and
/// memory contents as bytes in target order (little-endian for i386). Every parse is a Try: a
/// packet from the socket is untrusted, and bad hex is an error reply, never an exception.
/// </summary>
public static class GdbHex
{
    /// <summary>A number of at most 16 hex digits (up to <paramref name="max"/>); false for anything else (empty, a stray character, overflow).</summary>
    public static bool TryParseNumber(ReadOnlySpan<char> s, ulong max, out ulong value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 16) return false;
        foreach (char c in s)
        {
            int d = Digit(c);
            if (d < 0) return false;
            value = (value << 4) | (uint)d;
        }
        return value <= max;
    }

    /// <summary>Hex pairs to bytes; false on an odd length or a non-hex character.</summary>
    public static bool TryParseBytes(ReadOnlySpan<char> s, out byte[] bytes)
    {
        bytes = [];
        if ((s.Length & 1) != 0) return false;
        var b = new byte[s.Length / 2];
        for (int i = 0; i < b.Length; i++)
        {
            int hi = Digit(s[2 * i]), lo = Digit(s[2 * i + 1]);
            if (hi < 0 || lo < 0) return false;
            b[i] = (byte)((hi << 4) | lo);
        }
        bytes = b;
        return true;
    }

    public static int Digit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    public static void AppendBytes(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes) sb.Append(b.ToString("x2"));
    }

    public static string Bytes(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 2);
        AppendBytes(sb, bytes);
        return sb.ToString();
    }
}
