namespace Virt.Shared.Wakeup;

/// <summary>
/// How long the adaptive waiter of one doorbell polls before it sleeps (docs/wakeup.md). It learns
/// an exponentially weighted mean of its recent waits (1/8 weight per sample, as glibc's adaptive
/// mutex does; a sample is capped at <see cref="LongWaitFactor"/> x the cap) and spins for twice
/// that plus a slack of a quarter of the cap, never more than <see cref="CapTicks"/>. When the mean itself exceeds
/// the cap the peer is slow (a device that takes a millisecond, a guest that runs long between
/// exits): the waiter then sleeps at once. A wait that slept is learned by its full length, which
/// includes a futex wake-up: that is what spinning would have saved, so a pair whose only delay is
/// the wake-up itself learns to spin through it. A spin that runs out its budget and then has to
/// sleep anyway is the sign that the peer could not run meanwhile (on 2 CPUs with a busy third
/// process, both sides share one CPU and a spinning waiter only delays the peer): the waiter then
/// backs off, sleeping at once for 1, 2, 4 ... up to <see cref="MaxBackoff"/> waits, until a spin
/// succeeds again. It does not spin at all when the machine has no spare core,
/// nor when the peer is known not to be running (it was asleep when we rang it, or the monitor is
/// halted), except one wait in <see cref="ProbeInterval"/>: a probe spins for the cap so that a
/// pair that has fallen into sleeping on each other finds its way back to spinning when the
/// machine has room for it. When the peer last ran on our own CPU the waiter neither spins nor
/// sleeps but yields the CPU (sched_yield between polls) for the same budget: the peer, runnable
/// there, runs at once, and rings back without a FUTEX_WAKE because we are not asleep (measured:
/// busy round trips 3.8 µs p50 against 5.5-6 µs through futex). A yield that keeps us off the CPU
/// longer than the cap means a third process runs there, which sched_yield hands the CPU to: the
/// waiter then sleeps instead of yielding for a doubling while (<see cref="YieldStalled"/>).
/// Pure arithmetic on ticks: the caller measures, this decides.
/// </summary>
public sealed class AdaptiveSpin
{
    /// <summary>One wait in this many spins for the cap even when the rules say sleep.</summary>
    public const int ProbeInterval = 16;

    /// <summary>Beside the peer on our CPU with a core to spare, one wait in this many asks whether a CPU is idle (<see cref="SpreadCheckDue"/>).</summary>
    public const int SpreadInterval = 16;

    /// <summary>The most waits a run of failed spins makes the waiter sleep at once for.</summary>
    public const int MaxBackoff = 64;

    /// <summary>A sample counts at most this many caps: one very long wait must not dominate the mean for long.</summary>
    public const int LongWaitFactor = 4;

    /// <summary>A yield that kept us off the CPU longer than the cap is a stall: something besides the peer ran.</summary>
    public const int YieldBackoffMinMillis = 1;

    /// <summary>The longest time a run of stalled yields makes the waiter sleep instead of yielding.</summary>
    public const int YieldBackoffMaxMillis = 64;

    private readonly long _slackTicks;
    private readonly long _yieldBackoffMin, _yieldBackoffMax;
    private long _yieldBackoff; // the current length of the yield back-off (0: none yet)
    private long _noYieldUntil; // no yielding before this tick
    private long _lastStall;
    private long _meanTicks;
    private int _sinceProbe;
    private int _sinceSpread;
    private int _backoff;   // the current length of the back-off after a failed spin (0: none)
    private int _skipping;  // waits left to sleep at once

    /// <param name="capTicks">The longest spin (a few tens of µs: about one futex wake-up on the machines measured).</param>
    /// <param name="processorCount">With fewer than two, spinning only delays the peer: never spin.</param>
    /// <param name="ticksPerSecond">The tick of the times passed in (Stopwatch.Frequency unless a test says otherwise).</param>
    public AdaptiveSpin(long capTicks, int processorCount, long ticksPerSecond = 0)
    {
        if (ticksPerSecond <= 0) ticksPerSecond = System.Diagnostics.Stopwatch.Frequency;
        _yieldBackoffMin = ticksPerSecond * YieldBackoffMinMillis / 1000;
        _yieldBackoffMax = ticksPerSecond * YieldBackoffMaxMillis / 1000;
        if (capTicks <= 0) throw new ArgumentOutOfRangeException(nameof(capTicks));
        CapTicks = capTicks;
        SpareCore = processorCount >= 2;
        // Measured (docs/wakeup.md): with 1/16 of the cap the device model's wait for the next exit
        // missed the monitor's occasional few-µs hiccups and paid a ~40 µs wake-up: idle p99 33 µs; with 1/4, 1.8 µs.
        _slackTicks = Math.Max(1, capTicks / 4);
        _meanTicks = capTicks / 8; // start by spinning a little: the first waits teach the rest
    }

    public long CapTicks { get; }

    /// <summary>False on a one-CPU machine: <see cref="Budget"/> is then always 0.</summary>
    public bool SpareCore { get; }

    /// <summary>The learned mean wait (ticks).</summary>
    public long MeanTicks => _meanTicks;

    /// <summary>The spin the learned mean alone asks for: 2 x mean + slack at most the cap, or 0 when the mean exceeds the cap.</summary>
    public long LearnedBudget => _meanTicks > CapTicks ? 0 : Math.Min(CapTicks, 2 * _meanTicks + _slackTicks);

    /// <summary>The spin for the next wait, in ticks (0: sleep at once), the peer not on our CPU.</summary>
    /// <param name="peerRunning">False when the peer is known not to be running.</param>
    public long Budget(bool peerRunning) => Plan(peerRunning, peerOnOurCpu: false, now: 0).Ticks;

    /// <summary>How to wait next, and for how long at most before sleeping.</summary>
    /// <param name="peerRunning">False when the peer is known not to be running (asleep when we rang it, halted).</param>
    /// <param name="peerOnOurCpu">The peer last ran on our CPU (and is not halted): a yield lets it run now.</param>
    /// <param name="now">The current tick (for the yield back-off).</param>
    /// <param name="idleCpu">Beside the peer: another CPU is idle now (<see cref="SpreadCheckDue"/>, <see cref="IdleCpu"/>), so sleep to move there.</param>
    /// <param name="peerWoken">We just woke the peer (it slept when we rang it) and it is not halted: its answer is a wake-up and a service away.</param>
    public WaitPlan Plan(bool peerRunning, bool peerOnOurCpu, long now, bool idleCpu = false, bool peerWoken = false)
    {
        if (_skipping > 0)
        {
            _skipping--;
            return WaitPlan.Sleep;
        }
        long learned = LearnedBudget;
        if (peerOnOurCpu)
        {
            // Spinning beside the peer on its CPU only delays it: yield while that pays, else sleep (no
            // probe either: the peer's RunningCpu says when it runs elsewhere again).
            if (learned == 0 || !MayYield(now)) return WaitPlan.Sleep;
            _sinceProbe = 0;
            // Two threads yielding to each other stay runnable on one CPU, and the scheduler's load
            // balancing leaves cache-hot threads where they are: on an idle machine the pair would share
            // a CPU for good (measured: idle p50 3.5 us instead of 0.3-1.3). With a CPU idle, a sleep
            // lets the ring that ends it wake us there.
            if (idleCpu) return WaitPlan.Sleep;
            return new WaitPlan(WaitStyle.Yield, learned);
        }
        if (!SpareCore) return WaitPlan.Sleep;
        if (peerRunning && learned > 0)
        {
            _sinceProbe = 0;
            return new WaitPlan(WaitStyle.Spin, learned);
        }
        if (peerWoken || ++_sinceProbe >= ProbeInterval)
        {
            // A peer we just woke on another CPU answers after its wake-up (~20-30 us on this machine's idle
            // CPUs) and its service: spinning through that saves our own wake-up, the other half of the round
            // trip. A spin that runs out sleeps after all and backs off (Observe), as any failed spin.
            _sinceProbe = 0;
            return new WaitPlan(WaitStyle.Spin, CapTicks);
        }
        return WaitPlan.Sleep;
    }

    /// <summary>Teaches the policy how long one wait took (spinning, sleeping or both) and how it ended.</summary>
    public void Observe(long waitedTicks, WaitOutcome outcome)
    {
        long sample = Math.Clamp(waitedTicks, 0, LongWaitFactor * CapTicks);
        _meanTicks += (sample - _meanTicks) / 8;
        if (outcome == WaitOutcome.SpunThenSlept)
        {
            _backoff = Math.Clamp(2 * _backoff, 1, MaxBackoff);
            _skipping = _backoff;
        }
        else if (outcome == WaitOutcome.Spun)
        {
            _backoff = 0; // the peer ran beside us
        }
    }

    /// <summary>
    /// One yield kept us off the CPU for longer than the cap: a third process runs on our CPU (sched_yield
    /// then gives it the CPU for its slice, ms, and its deadline stays ahead of ours), or the peer is slow.
    /// Either way sleep instead of yielding for a while: 1 ms, doubling with each stall up to 64 ms, back to
    /// 1 ms once two of those have passed without one.
    /// </summary>
    public void YieldStalled(long now)
    {
        _yieldBackoff = _yieldBackoff == 0 || now - _lastStall > 2 * _yieldBackoffMax + _yieldBackoff
            ? _yieldBackoffMin
            : Math.Min(2 * _yieldBackoff, _yieldBackoffMax);
        _lastStall = now;
        _noYieldUntil = now + _yieldBackoff;
    }

    /// <summary>
    /// Called before planning a wait beside the peer on our CPU: true one time in
    /// <see cref="SpreadInterval"/> (never without a core to spare), when the caller should find out
    /// whether a CPU is idle and pass that to <see cref="Plan"/>. Asking costs a system call, so not every wait.
    /// </summary>
    public bool SpreadCheckDue()
    {
        if (!SpareCore || ++_sinceSpread < SpreadInterval) return false;
        _sinceSpread = 0;
        return true;
    }

    /// <summary>False during the yield back-off after a stalled yield (<see cref="YieldStalled"/>).</summary>
    public bool MayYield(long now) => now >= _noYieldUntil;

    /// <summary>No yielding before this tick (the yield back-off; for the tests).</summary>
    public long NoYieldUntil => _noYieldUntil;

    /// <summary>Waits left in the current back-off (for the tests and the benchmark).</summary>
    public int Skipping => _skipping;
}
