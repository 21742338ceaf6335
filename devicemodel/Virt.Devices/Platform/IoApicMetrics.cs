using Virt.Devices.Metrics;

namespace Virt.Devices.Platform;

/// <summary>What an <see cref="IoApic"/> observes: interrupts it sends to the local APIC.</summary>
public sealed class IoApicMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Fixed or lowest-priority deliveries from an unmasked pin.</summary>
    public long Deliveries { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() => [new("deliveries", Deliveries)];
}
