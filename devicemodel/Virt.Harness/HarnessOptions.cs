namespace Virt.Harness;

/// <summary>What virt-harness's command line chose (<see cref="HarnessCommand"/>): which of its devices to claim, and where.</summary>
public sealed record HarnessOptions(string? Socket, ushort? DebugConsole, ushort? ExitPort, ulong? ScratchStart, int ScratchSize, string Name)
{
    /// <summary>--text-buffer: the shared-memory text buffer's address and render port; null: none (the default).</summary>
    public (ulong Address, ushort RenderPort)? TextBuffer { get; init; }

    /// <summary>--constant: a constant port range and its value; null: none (the default).</summary>
    public (ushort First, ushort Count, uint Value)? Constant { get; init; }
}
