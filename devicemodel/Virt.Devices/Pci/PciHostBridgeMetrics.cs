using Virt.Devices.Metrics;

namespace Virt.Devices.Pci;

/// <summary>What a <see cref="PciHostBridge"/> observes: the guest probing functions that are not there, and resets through 0xCF9.</summary>
public sealed class PciHostBridgeMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Configuration reads (enabled CONFIG_ADDRESS) of a function with no device: they read all ones.</summary>
    public long AbsentReads { get; internal set; }

    /// <summary>Configuration writes (enabled CONFIG_ADDRESS) to a function with no device: dropped.</summary>
    public long AbsentWrites { get; internal set; }

    /// <summary>Writes of 0xCF9 with RST_CPU set.</summary>
    public long ResetRequests { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("absent_reads", AbsentReads),
        new("absent_writes", AbsentWrites),
        new("reset_requests", ResetRequests),
    ];
}
