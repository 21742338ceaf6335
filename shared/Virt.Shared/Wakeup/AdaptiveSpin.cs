namespace Virt.Shared.Wakeup;

/// <summary>
/// How long the adaptive waiter of one doorbell polls before it sleeps (docs/wakeup.md). It learns
/// an exponentially weighted mean of its recent waits (1/8 weight per sample, as glibc's adaptive
/// mutex does) and spins for twice that plus a little slack, never more than <see cref="CapTicks"/>:
/// a wait the learned spin did not cover counts as the cap, so a peer that answers slowly soon
/// makes the waiter sleep at once. It does not spin at all when the machine has no spare core,
/// nor when the peer is known not to be running (it was asleep when we rang it, or the monitor is
/// halted), except one wait in <see cref="ProbeInterval"/>: a probe spins for the cap so that a
/// pair that has fallen into sleeping on each other finds its way back to spinning when the
/// machine has room for it. Pure arithmetic on ticks: the caller measures, this decides.
/// </summary>
public sealed class AdaptiveSpin
{
    /// <summary>One wait in this many spins for the cap even when the rules say sleep.</summary>
    public const int ProbeInterval = 16;

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

    /// <summary>The spin the learned mean alone asks for: 2 x mean + slack, or 0 when that exceeds the cap.</summary>
    public long LearnedBudget
    {
        get
        {
            long b = 2 * _meanTicks + _slackTicks;
            return b > CapTicks ? 0 : b;
        }
    }

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

    /// <summary>Teaches the policy how one wait went: it took <paramref name="waitedTicks"/>, ended while spinning or not.</summary>
    public void Observe(long waitedTicks, bool endedWhileSpinning)
    {
        long sample = endedWhileSpinning ? Math.Clamp(waitedTicks, 0, CapTicks) : CapTicks;
        _meanTicks += (sample - _meanTicks) / 8;
    }
}
