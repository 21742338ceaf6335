namespace Virt.Monitor.Debug;

/// <summary>What a watchpoint stops on: gdb's watch (Z2), rwatch (Z3) and awatch (Z4).</summary>
public enum WatchKind
{
    Write = 2,
    Read = 3,
    Access = 4,
}
