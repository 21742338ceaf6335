namespace Virt.Monitor.Debug;

/// <summary>What the session does after a command's reply (if any) is sent.</summary>
public enum GdbAction
{
    None,
    /// <summary>c, s, vCont: the guest runs; the stop reply comes when it stops.</summary>
    Resumed,
    /// <summary>?: the reply is the stop, which may still have to be waited for.</summary>
    ReportStop,
    /// <summary>D: breakpoints go, the guest runs on, the connection closes.</summary>
    Detach,
    /// <summary>k, vKill: the VM ends.</summary>
    Kill,
}
