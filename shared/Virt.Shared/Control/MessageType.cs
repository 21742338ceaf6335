namespace Virt.Shared.Control;

/// <summary>The type field of a control frame (docs/control-protocol.md).</summary>
public enum MessageType : ushort
{
    /// <summary>Device model to monitor, first frame: version, features, secret.</summary>
    Hello = 1,
    /// <summary>Monitor to device model: attach accepted, where the shared memory is.</summary>
    Welcome = 2,
    /// <summary>Monitor to device model: attach or request refused; the monitor closes the connection after it.</summary>
    Refused = 3,
    /// <summary>Device model to monitor: claim a port or MMIO range.</summary>
    Claim = 4,
    /// <summary>Monitor to device model: answer to a claim.</summary>
    ClaimResult = 5,
    /// <summary>Device model to monitor: all claims made, the guest may start.</summary>
    Ready = 6,
    /// <summary>Monitor to device model: the VM has ended; detach and exit.</summary>
    Shutdown = 7,
}
