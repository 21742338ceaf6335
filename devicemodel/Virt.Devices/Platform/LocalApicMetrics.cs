using Virt.Devices.Metrics;

namespace Virt.Devices.Platform;

/// <summary>What a <see cref="LocalApic"/> observes: interrupts it accepts, its timer, EOIs, IPIs and spurious INTA cycles.</summary>
public sealed class LocalApicMetrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Fixed interrupts accepted into IRR (from the I/O APIC, the timer, IPIs).</summary>
    public long Interrupts { get; internal set; }

    /// <summary>Timer expiries with the timer's LVT unmasked (missed periods collapse into one).</summary>
    public long TimerInterrupts { get; internal set; }

    /// <summary>EOI writes that ended an interrupt in service.</summary>
    public long Eois { get; internal set; }

    /// <summary>Interrupts the guest ended through KVM's PV EOI word instead of an EOI write.</summary>
    public long PvEois { get; internal set; }

    /// <summary>IPIs the guest sent to this (the only) processor.</summary>
    public long Ipis { get; internal set; }

    /// <summary>INTA cycles with nothing deliverable: answered with the spurious vector.</summary>
    public long Spurious { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("interrupts", Interrupts),
        new("timer_interrupts", TimerInterrupts),
        new("eois", Eois),
        new("pv_eois", PvEois),
        new("ipis", Ipis),
        new("spurious", Spurious),
    ];
}
