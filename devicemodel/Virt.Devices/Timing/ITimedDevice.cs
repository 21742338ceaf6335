namespace Virt.Devices.Timing;

/// <summary>
/// A device whose state changes with time even when the guest does not touch it (a timer firing,
/// a receive timeout). Rather than being polled, it tells the host when it next needs attention:
/// the host runs the guest until <see cref="NextDeadline"/> has passed, then calls
/// <see cref="Advance"/>, which raises or lowers IRQ lines as of the host clock's current time.
/// Port accesses bring the device up to date on their own; Advance only matters for interrupts.
/// </summary>
public interface ITimedDevice
{
    /// <summary>
    /// How long from now (on the host's <see cref="TimeProvider"/>) until the next interrupt-relevant
    /// event; <see cref="TimeSpan.Zero"/> if one is already due; null if nothing is scheduled.
    /// Rounded up, so an Advance at or after that time always sees the event.
    /// </summary>
    TimeSpan? NextDeadline { get; }

    /// <summary>Catches the device up to the host clock's current time.</summary>
    void Advance();
}
