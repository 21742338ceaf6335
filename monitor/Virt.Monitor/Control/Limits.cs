namespace Virt.Monitor.Control;

/// <summary>
/// What one peer holding the secret can make the monitor hold at once (docs/control-protocol.md,
/// "Limits"). Each is small next to a process's descriptor limit, so a misbehaving client meets a
/// refusal, never the monitor running out of descriptors or memory.
/// </summary>
public static class Limits
{
    /// <summary>Open control connections of every kind (device models, management clients, handshakes).</summary>
    public const int MaxConnections = 64;

    /// <summary>Connections that have not yet sent their first frame (Hello or Manage); each has 5 s to do so.</summary>
    public const int MaxUnidentified = 16;

    /// <summary>Device models between Hello and Ready (each holds a comm file and its mapping).</summary>
    public const int MaxPendingAttaches = 4;

    /// <summary>Device models attached, attaching or failed (not yet replaced) at once.</summary>
    public const int MaxDeviceModels = 16;

    /// <summary>
    /// A device model the monitor starts (virt run --dm, virt attach) must be routed within this time,
    /// else it is killed and the start reported as failed. One constant for both, so they cannot drift.
    /// </summary>
    public static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(30);

    /// <summary>From Welcome to Ready: a handshake that takes longer is refused and everything it was given is freed.</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the end of a run waits for the device models' counters (MetricsRequest, all models at
    /// once): a model that does not answer is left out of the report, it does not hold the run's end.
    /// </summary>
    public static readonly TimeSpan MetricsTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Longest device model or management client name, in characters (names appear in every message about them).</summary>
    public const int MaxNameLength = 64;
}
