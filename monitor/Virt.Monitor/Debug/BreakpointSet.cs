namespace Virt.Monitor.Debug;

/// <summary>
/// The debugger's breakpoints on linear addresses (CS base + EIP), checked by the monitor before each
/// instruction while any is set (<see cref="GuestDebugger"/>): guest memory is never patched with
/// INT3, so the guest cannot see or overwrite them and code checksums stay right. Software (Z0) and
/// hardware (Z1) breakpoints work alike; hardware ones are limited to the four of DR0-DR3, as gdb
/// expects of x86, and are reported as such.
/// </summary>
public sealed class BreakpointSet
{
    public const int MaxSoftware = 4096;
    public const int MaxHardware = 4;

    private readonly HashSet<uint> _software = new();
    private readonly HashSet<uint> _hardware = new();

    public int Count => _software.Count + _hardware.Count;

    /// <summary>False when the set is full (the debugger gets an error reply).</summary>
    public bool Add(uint linear, bool hardware)
    {
        HashSet<uint> set = hardware ? _hardware : _software;
        if (set.Contains(linear)) return true;
        if (set.Count >= (hardware ? MaxHardware : MaxSoftware)) return false;
        set.Add(linear);
        return true;
    }

    /// <summary>Removing one that is not there succeeds, as gdb may remove twice after a reconnect.</summary>
    public void Remove(uint linear, bool hardware) => (hardware ? _hardware : _software).Remove(linear);

    /// <summary>The kind of breakpoint at <paramref name="linear"/>, or null.</summary>
    public StopKind? At(uint linear) =>
        _software.Contains(linear) ? StopKind.SoftwareBreakpoint : _hardware.Contains(linear) ? StopKind.HardwareBreakpoint : null;

    public void Clear()
    {
        _software.Clear();
        _hardware.Clear();
    }
}
