using System.Globalization;

namespace Virt.CommandLine;

/// <summary>QEMU's -m: a number with an optional K/M/G suffix; no suffix means MiB.</summary>
public static class MemorySize
{
    /// <exception cref="UsageException">Not such a size, or outside 2 MiB to 3 GiB, or not a multiple of 4 KiB.</exception>
    public static long Parse(string s)
    {
        if (s.Length == 0) throw new UsageException("-m needs a size");
        char suffix = char.ToUpperInvariant(s[^1]);
        int shift = suffix switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => -1 };
        string digits = shift < 0 ? s : s[..^1];
        if (shift < 0) shift = 20;
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n <= 0 || n > (1L << 40))
            throw new UsageException($"-m {s}: expected a size such as 64M or 1G");
        long bytes = n << shift;
        if (bytes < (2L << 20) || bytes > 3L << 30 || (bytes & 0xFFF) != 0)
            throw new UsageException($"-m {s}: guest RAM must be from 2 MiB to 3 GiB, a multiple of 4 KiB");
        return bytes;
    }
}
