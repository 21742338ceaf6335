namespace Virt.Harness;

/// <summary>What virt-harness's command line chose (<see cref="HarnessCommand"/>): which of its three devices to claim, and where.</summary>
public sealed record HarnessOptions(string? Socket, ushort? DebugConsole, ushort? ExitPort, ulong? ScratchStart, int ScratchSize, string Name);
