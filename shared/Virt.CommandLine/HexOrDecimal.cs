using System.Globalization;

namespace Virt.CommandLine;

/// <summary>A number as a user writes an address or a port: hex with 0x, or decimal.</summary>
public static class HexOrDecimal
{
    /// <exception cref="UsageException">Not a number, or above <paramref name="max"/>.</exception>
    public static ulong Parse(string s, ulong max)
    {
        bool ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok && v <= max ? v : throw new UsageException($"'{s}' is not a number up to 0x{max:X}");
    }
}
