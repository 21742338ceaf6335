namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// Virtual time for deterministic runs: nanoseconds = instructions retired x a fixed cost, plus
/// whatever the host skipped while the guest was halted (HLT jumps straight to the next timer
/// deadline instead of sleeping). The TSC and every device read this one clock, so Linux's
/// TSC-against-PIT calibration sees a perfectly steady machine, whatever the host's load.
/// </summary>
public sealed class InstructionClock(Func<long> instructionsRetired, long nanosecondsPerInstruction, DateTimeOffset start) : TimeProvider
{
    private long _skipped;

    public override long TimestampFrequency => 1_000_000_000;

    public long NanosecondsPerInstruction => nanosecondsPerInstruction;

    public override long GetTimestamp() => instructionsRetired() * nanosecondsPerInstruction + _skipped;

    public override DateTimeOffset GetUtcNow() => start + TimeSpan.FromTicks(GetTimestamp() / 100);

    /// <summary>Time that passes with no instructions (the guest halted until a deadline).</summary>
    public void Skip(TimeSpan span) => _skipped += Math.Max(1, span.Ticks * 100);

    public TimeSpan Elapsed => TimeSpan.FromTicks(GetTimestamp() / 100);
}
