using Virt.Devices.Metrics;

namespace Virt.Devices.Platform;

/// <summary>What a <see cref="Pit8254"/> observes: the interrupts channel 0 raises.</summary>
public sealed class Pit8254Metrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Rising edges of channel 0's output on the IRQ line (periods that passed between syncs collapse into one).</summary>
    public long TimerInterrupts { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() => [new("timer_interrupts", TimerInterrupts)];
}
