namespace Virt.CommandLine;

/// <summary>
/// Bad options or values: the program prints the message as one line after its name and ends with
/// <see cref="CommandLineProgram.BadUsage"/>. An <see cref="ArgumentException"/>, so the value parsers'
/// own checks and the programs' existing handlers treat it alike.
/// </summary>
public sealed class UsageException(string message) : ArgumentException(message);
