using Virt.Devices.Metrics;

namespace Virt.Devices.Debug;

/// <summary>What a <see cref="DebugConsolePort"/> observes: the bytes the guest printed through it.</summary>
public sealed class DebugConsoleMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Bytes written to the port (each goes to the sink).</summary>
    public long Bytes { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() => [new("bytes", Bytes)];
}
