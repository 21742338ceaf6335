using Virt.Devices.Metrics;

namespace Virt.Devices.Platform;

/// <summary>What a <see cref="DualPic8259"/> observes at its INTA cycles.</summary>
public sealed class PicMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Interrupts acknowledged by the CPU and moved into service (master or slave).</summary>
    public long Interrupts { get; internal set; }

    /// <summary>INTA cycles with nothing pending (the request went away): answered with IR7's vector, the spurious IRQ 7 or 15.</summary>
    public long Spurious { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("interrupts", Interrupts),
        new("spurious", Spurious),
    ];
}
