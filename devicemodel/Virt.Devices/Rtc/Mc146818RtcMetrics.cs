using Virt.Devices.Metrics;

namespace Virt.Devices.Rtc;

/// <summary>What a <see cref="Mc146818Rtc"/> observes: its interrupts by source, and the guest reading the clock mid-update.</summary>
public sealed class Mc146818RtcMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>IRQ 8 raised with the periodic flag (PF) enabled and set.</summary>
    public long PeriodicInterrupts { get; internal set; }

    /// <summary>IRQ 8 raised with the alarm flag (AF) enabled and set.</summary>
    public long AlarmInterrupts { get; internal set; }

    /// <summary>IRQ 8 raised with the update-ended flag (UF) enabled and set.</summary>
    public long UpdateInterrupts { get; internal set; }

    /// <summary>Reads of register A that showed UIP (the guest waits for the update to end, as it should).</summary>
    public long UpdateInProgressReads { get; internal set; }

    /// <summary>Reads of a clock field while UIP was set: a real MC146818 could have given a torn time.</summary>
    public long ReadsWhileUpdating { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("periodic_interrupts", PeriodicInterrupts),
        new("alarm_interrupts", AlarmInterrupts),
        new("update_interrupts", UpdateInterrupts),
        new("uip_reads", UpdateInProgressReads),
        new("reads_while_updating", ReadsWhileUpdating),
    ];
}
