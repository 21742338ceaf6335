using System.Globalization;
using Virt.CommandLine;

namespace Virt.Monitor.Bench;

/// <summary>The benchmarks' counts: whole numbers in a range, with the option's name in the error.</summary>
internal static class CountParser
{
    public static Func<string, int> Between(string option, int min, int max) => s =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v
            : throw new UsageException($"{option} {s}: expected a whole number from {min} to {max}");
}
