namespace Virt.CommandLine;

/// <summary>Where a serial port goes, as virt run's and virt-dm's --serial take it: stdio, file:PATH or none.</summary>
public static class SerialTarget
{
    /// <exception cref="UsageException">Not one of the three forms.</exception>
    public static string Check(string s) =>
        s is "stdio" or "none" || (s.StartsWith("file:", StringComparison.Ordinal) && s.Length > 5)
            ? s
            : throw new UsageException($"--serial {s}: expected stdio, file:PATH or none");
}
