namespace Virt.Devices.Tests.Support;

/// <summary>A TimeProvider that only moves when a test moves it. Timestamps are nanoseconds.</summary>
public sealed class ManualClock : TimeProvider
{
    public const long Frequency = 1_000_000_000;

    private readonly DateTimeOffset _start;
    private long _timestamp;

    public ManualClock(DateTimeOffset? start = null, long startTimestamp = 0)
    {
        _start = start ?? new DateTimeOffset(2024, 2, 29, 13, 45, 56, TimeSpan.Zero);
        _timestamp = startTimestamp;
        StartTimestamp = startTimestamp;
    }

    public long StartTimestamp { get; }

    public override long TimestampFrequency => Frequency;

    public override long GetTimestamp() => _timestamp;

    public override DateTimeOffset GetUtcNow() => _start + TimeSpan.FromTicks((_timestamp - StartTimestamp) / 100);

    public void AdvanceNanoseconds(long nanoseconds) => _timestamp += nanoseconds;

    public void Advance(TimeSpan span) => _timestamp += span.Ticks * 100;

    /// <summary>Moves to the first nanosecond at which a PIT attached at <paramref name="pitEpoch"/> has counted <paramref name="clocks"/> clocks.</summary>
    public void SetPitClock(long clocks, long pitEpoch = 0) =>
        _timestamp = pitEpoch + (clocks * Frequency + 1_193_182 - 1) / 1_193_182;
}
