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
    /// <summary>Management client to monitor, first frame: version, secret, client name (virt list / attach / detach).</summary>
    Manage = 8,
    /// <summary>Monitor to management client: the VM's state and its attachments.</summary>
    VmStatus = 9,
    /// <summary>Management client to monitor: start a device model and attach it (optionally in place of another).</summary>
    AttachRequest = 10,
    /// <summary>Management client to monitor: detach a device model.</summary>
    DetachRequest = 11,
    /// <summary>Monitor to management client: outcome of an attach or detach request.</summary>
    RequestResult = 12,
    /// <summary>Monitor to device model: save the state of your stateful devices (the guest is paused).</summary>
    SaveState = 13,
    /// <summary>Either way: one device's versioned state blob (DM to monitor after SaveState; monitor to DM after Welcome).</summary>
    DeviceState = 14,
    /// <summary>Device model to monitor: all DeviceState frames for a SaveState are sent.</summary>
    StateSaved = 15,
    /// <summary>Management client to monitor: send a fresh VmStatus.</summary>
    StatusRequest = 16,
    /// <summary>Monitor to device model (protocol 1.3): send your devices' counters (the run is ending, or its statistics are printed).</summary>
    MetricsRequest = 17,
    /// <summary>Device model to monitor, the answer to MetricsRequest: (device, counter, value) triples.</summary>
    MetricsReport = 18,
    /// <summary>Management client to monitor (protocol 1.4): send the counters as they are now (`virt top`).</summary>
    StatsRequest = 19,
    /// <summary>Monitor to management client, the answer to StatsRequest: a <see cref="StatsSnapshot"/>.</summary>
    StatsSnapshot = 20,
    /// <summary>Management client to monitor (protocol 1.4): save a snapshot of the VM to a file (virt save), answered with RequestResult.</summary>
    SaveRequest = 21,
    /// <summary>Management client to monitor (protocol 1.6): load a snapshot into a VM waiting for one (virt run --incoming; virt restore), answered with RequestResult.</summary>
    RestoreRequest = 22,
    /// <summary>Monitor to device model (protocol 1.6, to a model that offered Features.LateRestore): take these device states now; DeviceState frames follow.</summary>
    RestoreState = 23,
    /// <summary>Device model to monitor, the answer to RestoreState: all taken, or none (the devices are as they were) and why.</summary>
    StateRestored = 24,
}
