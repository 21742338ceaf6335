namespace Virt.Monitor.Debug;

/// <summary>One stop: its kind, the signal gdb is told, and for a watchpoint what and where.</summary>
public readonly record struct StopEvent(StopKind Kind, int Signal, WatchKind Watch = default, uint Address = 0, int ExitStatus = 0)
{
    public const int Sigint = 2, Sigtrap = 5;

    public static StopEvent Trap => new(StopKind.Signal, Sigtrap);
    public static StopEvent Interrupted => new(StopKind.Signal, Sigint);
}
