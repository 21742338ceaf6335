using System.Diagnostics;

namespace Virt.Monitor.Vm;

/// <summary>
/// The guest's time: what the TSC, the PIT and the local APIC timer all read, so they always agree.
/// <para>
/// Instruction mode (the default for Linux): while the VCPU runs, time is the number of
/// instructions retired times a fixed cost (10 ns: a 100 MIPS machine); while it is halted, time
/// passes at the host's rate (the VCPU really sleeps until the next timer deadline or an
/// interrupt), as QEMU's icount with sleep=on. Linux calibrates its TSC and APIC timer against the
/// PIT over a few milliseconds of guest code: on host time, a second helper or the device model
/// taking the core away for that window skews the result by tens of percent (measured: the
/// calibration failed under load); on instruction time the window is exact whatever the load.
/// An idle guest (a shell waiting for a key) sleeps instead of racing through timer ticks.
/// </para>
/// <para>Host mode: the host's monotonic clock, for guests that want real time.</para>
/// </summary>
public sealed class GuestClock : TimeProvider
{
    private Func<long>? _instructionsRetired;
    private readonly long _start;
    private long _idleNanoseconds;
    private long _idleSince = -1;
    // Added to every reading: a restored VM's clock continues from the time it was saved at.
    private long _continuedFrom;

    private GuestClock(Func<long>? instructionsRetired, long nanosecondsPerInstruction)
    {
        _instructionsRetired = instructionsRetired;
        NanosecondsPerInstruction = nanosecondsPerInstruction;
        _start = Stopwatch.GetTimestamp();
    }

    public const long DefaultNanosecondsPerInstruction = 10;

    public static GuestClock Instructions(Func<long> instructionsRetired, long nanosecondsPerInstruction = DefaultNanosecondsPerInstruction) =>
        new(instructionsRetired, nanosecondsPerInstruction);

    public static GuestClock Host() => new(null, 0);

    /// <summary>0 in host mode.</summary>
    public long NanosecondsPerInstruction { get; private set; }

    public bool IsVirtual => _instructionsRetired is not null;

    public override long TimestampFrequency => 1_000_000_000;

    /// <summary>Guest nanoseconds since the clock was made.</summary>
    public override long GetTimestamp()
    {
        if (_instructionsRetired is null) return HostNanoseconds() + _continuedFrom;
        long idle = _idleNanoseconds;
        if (_idleSince >= 0) idle += HostNanoseconds() - _idleSince;
        return _instructionsRetired() * NanosecondsPerInstruction + idle + _continuedFrom;
    }

    /// <summary>
    /// A restored VM: from now on the clock reads <paramref name="timestamp"/> (the reading saved in the
    /// snapshot) plus what passes from here, once the CPU's retired count is back at
    /// <paramref name="instructionsRetired"/>; so the timers' deadlines and the TSC keep their phase.
    /// </summary>
    public void ContinueFrom(long timestamp, long instructionsRetired)
    {
        _idleNanoseconds = 0;
        _idleSince = -1;
        _continuedFrom = _instructionsRetired is null
            ? timestamp - HostNanoseconds()
            : timestamp - instructionsRetired * NanosecondsPerInstruction;
    }

    /// <summary>
    /// Before the guest's first instruction only: the other mode (<paramref name="instructionsRetired"/> null: host time).
    /// A VM built to wait for a restore (virt run --incoming) takes the clock of the machine it is given; a
    /// <see cref="ContinueFrom"/> follows, which sets the reading.
    /// </summary>
    public void SwitchMode(Func<long>? instructionsRetired, long nanosecondsPerInstruction = DefaultNanosecondsPerInstruction)
    {
        _instructionsRetired = instructionsRetired;
        NanosecondsPerInstruction = instructionsRetired is null ? 0 : nanosecondsPerInstruction;
        _idleNanoseconds = 0;
        _idleSince = -1;
    }

    public TimeSpan Elapsed => TimeSpan.FromTicks(GetTimestamp() / 100);

    /// <summary>The VCPU halts: from now until <see cref="EndIdle"/> guest time follows the host's.</summary>
    public void BeginIdle()
    {
        if (_idleSince < 0) _idleSince = HostNanoseconds();
    }

    public void EndIdle()
    {
        if (_idleSince < 0) return;
        _idleNanoseconds += HostNanoseconds() - _idleSince;
        _idleSince = -1;
    }

    /// <summary>How many instructions fit before <paramref name="span"/> of guest time has passed (at least 1).</summary>
    public long InstructionsWithin(TimeSpan span, long otherwise)
    {
        if (_instructionsRetired is null)
        {
            // Host time: a rough 50 instructions per microsecond keeps slices near their deadline.
            return Math.Clamp((long)(span.TotalMicroseconds * 50), 1, otherwise);
        }
        return Math.Clamp(span.Ticks * 100 / NanosecondsPerInstruction, 1, otherwise);
    }

    private long HostNanoseconds() => (long)((Int128)(Stopwatch.GetTimestamp() - _start) * 1_000_000_000 / Stopwatch.Frequency);
}
