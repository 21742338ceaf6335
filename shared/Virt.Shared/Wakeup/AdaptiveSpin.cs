namespace Virt.Shared.Wakeup;

/// <summary>
/// How long the adaptive waiter of one doorbell polls before it sleeps (docs/wakeup.md). It learns
/// an exponentially weighted mean of its recent waits (1/8 weight per sample, as glibc's adaptive
/// mutex does; a sample is capped at <see cref="LongWaitFactor"/> x the cap) and spins for twice
/// that plus a little slack, never more than <see cref="CapTicks"/>. When the mean itself exceeds
/// the cap the peer is slow (a device that takes a millisecond, a guest that runs long between
/// exits): the waiter then sleeps at once. A wait that slept is learned by its full length, which
/// includes a futex wake-up: that is what spinning would have saved, so a pair whose only delay is
/// the wake-up itself learns to spin through it. It does not spin at all when the machine has no spare core,
/// nor when the peer is known not to be running (it was asleep when we rang it, or the monitor is
/// halted), except one wait in <see cref="ProbeInterval"/>: a probe spins for the cap so that a
/// pair that has fallen into sleeping on each other finds its way back to spinning when the
/// machine has room for it. Pure arithmetic on ticks: the caller measures, this decides.
/// </summary>
public sealed class AdaptiveSpin
{
    /// <summary>One wait in this many spins for the cap even when the rules say sleep.</summary>
    public const int ProbeInterval = 16;

    /// <summary>A sample counts at most this many caps: one very long wait must not dominate the mean for long.</summary>
    public const int LongWaitFactor = 4;

    private readonly long _slackTicks;
    private long _meanTicks;
    private int _sinceProbe;

    /// <param name="capTicks">The longest spin (a few tens of µs: about one futex wake-up on the machines measured).</param>
    /// <param name="processorCount">With fewer than two, spinning only delays the peer: never spin.</param>
    public AdaptiveSpin(long capTicks, int processorCount)
    {
        if (capTicks <= 0) throw new ArgumentOutOfRangeException(nameof(capTicks));
        CapTicks = capTicks;
        SpareCore = processorCount >= 2;
        _slackTicks = Math.Max(1, capTicks / 16);
        _meanTicks = capTicks / 8; // start by spinning a little: the first waits teach the rest
    }

    public long CapTicks { get; }

    /// <summary>False on a one-CPU machine: <see cref="Budget"/> is then always 0.</summary>
    public bool SpareCore { get; }

    /// <summary>The learned mean wait (ticks).</summary>
    public long MeanTicks => _meanTicks;

    /// <summary>The spin the learned mean alone asks for: 2 x mean + slack at most the cap, or 0 when the mean exceeds the cap.</summary>
    public long LearnedBudget => _meanTicks > CapTicks ? 0 : Math.Min(CapTicks, 2 * _meanTicks + _slackTicks);

    /// <summary>The spin for the next wait, in ticks (0: sleep at once).</summary>
    /// <param name="peerRunning">False when the peer is known not to be running.</param>
    public long Budget(bool peerRunning)
    {
        if (!SpareCore) return 0;
        long learned = LearnedBudget;
        if (peerRunning && learned > 0)
        {
            _sinceProbe = 0;
            return learned;
        }
        if (++_sinceProbe >= ProbeInterval)
        {
            _sinceProbe = 0;
            return CapTicks;
        }
        return 0;
    }

    /// <summary>Teaches the policy how long one wait took (spinning, sleeping or both).</summary>
    public void Observe(long waitedTicks)
    {
        long sample = Math.Clamp(waitedTicks, 0, LongWaitFactor * CapTicks);
        _meanTicks += (sample - _meanTicks) / 8;
    }
}
