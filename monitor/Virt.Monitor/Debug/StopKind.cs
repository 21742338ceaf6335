namespace Virt.Monitor.Debug;

/// <summary>Why the guest stopped for the debugger (or ended), which decides the stop reply.</summary>
public enum StopKind
{
    /// <summary>Stopped on the debugger's request: attach, -S, Ctrl-C (SIGINT), a finished single step (SIGTRAP).</summary>
    Signal,
    SoftwareBreakpoint,
    HardwareBreakpoint,
    Watchpoint,
    /// <summary>The VM ended: the reply is W with the exit status.</summary>
    Exited,
}
