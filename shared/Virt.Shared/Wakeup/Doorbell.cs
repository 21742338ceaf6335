using System.Diagnostics;
using System.Net.Sockets;
using Virt.Shared.Abi;

namespace Virt.Shared.Wakeup;

/// <summary>
/// One direction of the wake-up protocol over a <see cref="DoorbellWords"/> in the comm page.
/// The ringer publishes a new Seq (release) and, if the waiter said it sleeps, FUTEX_WAKEs it;
/// the waiter polls Seq, then says it sleeps and FUTEX_WAITs on Seq. Both sides use a full
/// fence between their store and their load (Dekker), and FUTEX_WAIT itself re-checks Seq in
/// the kernel, so no wake-up is lost.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed unsafe class Doorbell
{
    private readonly DoorbellWords* _words;
    private readonly Socket? _socket;
    private readonly long _spinTicks;
    private readonly byte[] _buffer = new byte[64];
    private readonly AdaptiveSpin? _adaptive;
    private readonly uint* _peerIdle;
    private readonly DoorbellWords* _peerWords;

    /// <param name="spinMicros">The spin of SpinFutex; for Adaptive, the cap of the learned spin.</param>
    /// <param name="peerIdle">Adaptive only: a word the peer sets while it is not running (the monitor's Irq.MonitorIdle); spinning stops when it is set.</param>
    /// <param name="peerWords">Adaptive only: the doorbell the peer waits on; its RunningCpu says where the peer runs, and when that is our CPU the waiter yields the CPU to it instead of spinning.</param>
    public Doorbell(DoorbellWords* words, WakeMode mode, int spinMicros, Socket? socket = null, uint* peerIdle = null, DoorbellWords* peerWords = null)
    {
        if (mode == WakeMode.Socket && socket is null) throw new ArgumentException("socket mode needs a socket", nameof(socket));
        if (mode is WakeMode.SpinFutex or WakeMode.Futex or WakeMode.Adaptive && !Futex.Supported) mode = WakeMode.Spin;
        _words = words;
        Mode = mode;
        _socket = socket;
        _spinTicks = mode switch
        {
            WakeMode.Spin => long.MaxValue,
            WakeMode.SpinFutex => spinMicros * Stopwatch.Frequency / 1_000_000,
            _ => 0,
        };
        if (mode == WakeMode.Adaptive)
        {
            _adaptive = new AdaptiveSpin(Math.Max(1, Math.Min(spinMicros, AdaptiveCapMicros) * Stopwatch.Frequency / 1_000_000), Environment.ProcessorCount);
            IdleCpu.Likely(); // opens its file now, not on the exit path (which allocates nothing)
        }
        _peerIdle = peerIdle;
        _peerWords = peerWords;
    }

    /// <summary>The most an adaptive waiter ever spins, whatever `--spin-us` says (docs/wakeup.md).</summary>
    public const int AdaptiveCapMicros = 50;

    /// <summary>The adaptive policy of this waiter (null unless Adaptive).</summary>
    public AdaptiveSpin? Adaptive => _adaptive;

    /// <summary>Waits whose learned spin covered them / that slept (Adaptive; for the benchmark and the tests).</summary>
    public long SpunWaits { get; private set; }
    public long SleptWaits { get; private set; }

    /// <summary>Waits answered while yielding the CPU to a peer on our CPU (Adaptive).</summary>
    public long YieldedWaits { get; private set; }

    public WakeMode Mode { get; }

    /// <summary>The current Seq (acquire).</summary>
    public uint Current => Volatile.Read(ref _words->Seq);

    /// <summary>
    /// Publishes <paramref name="seq"/> and wakes the waiter if it sleeps. Returns whether it slept
    /// (it has a wake-up ahead of it before it runs: the adaptive waiter on the other doorbell then
    /// does not expect a quick answer).
    /// </summary>
    public bool Ring(uint seq)
    {
        if (Mode == WakeMode.Socket)
        {
            Volatile.Write(ref _words->Seq, seq);
            _buffer[0] = 1;
            _socket!.Send(_buffer.AsSpan(0, 1));
            return false;
        }
        // Interlocked.Exchange is a full fence: the store of Seq is visible before we read Sleeping.
        Interlocked.Exchange(ref _words->Seq, seq);
        if (Mode != WakeMode.Spin && Volatile.Read(ref _words->Sleeping) != 0)
        {
            Futex.Wake(&_words->Seq);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Waits while Seq == <paramref name="old"/>, at most <paramref name="timeoutMicros"/>.
    /// Returns the new Seq, or <paramref name="old"/> on timeout (the caller checks the peer is alive and waits again).
    /// </summary>
    /// <param name="peerRunning">Adaptive: false when the peer is known not to be running (it slept when we last rang it).</param>
    public uint WaitWhile(uint old, long timeoutMicros, bool peerRunning = true)
    {
        uint v = Volatile.Read(ref _words->Seq);
        if (v != old) return _adaptive is null ? v : Ran(v);
        long start = Stopwatch.GetTimestamp();
        long deadline = start + timeoutMicros * Stopwatch.Frequency / 1_000_000;

        if (Mode == WakeMode.Socket) return WaitSocket(old, timeoutMicros);
        if (_adaptive is not null) return WaitAdaptive(old, start, deadline, peerRunning);

        // Spin phase (not for Futex): PAUSE between polls so a sibling hyperthread runs.
        if (Mode != WakeMode.Futex)
        {
            long spinEnd = _spinTicks == long.MaxValue ? deadline : Math.Min(deadline, start + _spinTicks);
            int polls = 0;
            while (true)
            {
                v = Volatile.Read(ref _words->Seq);
                if (v != old) return v;
                if ((++polls & 63) == 0 && Stopwatch.GetTimestamp() >= spinEnd) break;
                Thread.SpinWait(1);
            }
            if (Mode == WakeMode.Spin) return old;
        }

        return Sleep(old, deadline);
    }

    private uint WaitAdaptive(uint old, long start, long deadline, bool peerRunning)
    {
        AdaptiveSpin policy = _adaptive!;
        bool halted = PeerHalted;
        if (halted) peerRunning = false;
        uint myCpu = (uint)Thread.GetCurrentProcessorId() + 1;
        bool besidePeer = !halted && PeerOnCpu(myCpu);
        bool idleCpu = besidePeer && policy.SpreadCheckDue() && IdleCpu.Likely();
        WaitPlan plan = policy.Plan(peerRunning, besidePeer, start, idleCpu, peerWoken: !halted && !peerRunning);
        uint v;
        if (plan.Style != WaitStyle.Sleep)
        {
            bool yielding = plan.Style == WaitStyle.Yield;
            long spinEnd = Math.Min(deadline, start + plan.Ticks);
            int polls = 0;
            while (true)
            {
                v = Volatile.Read(ref _words->Seq);
                if (v != old)
                {
                    policy.Observe(Stopwatch.GetTimestamp() - start, WaitOutcome.Spun);
                    if (yielding) YieldedWaits++;
                    else SpunWaits++;
                    return Ran(v);
                }
                // While yielding every poll is a system call anyway; spinning, the clock and the peer's
                // words every 8 polls: a check costs about what a poll does.
                if (yielding || (++polls & 7) == 0)
                {
                    long now = Stopwatch.GetTimestamp();
                    if (now >= spinEnd || PeerHalted) break;
                    // The peer came to our CPU: spinning only delays it, a yield lets it run.
                    if (!yielding && PeerOnCpu(myCpu)) yielding = true;
                    // A stalled yield (below) or a back-off: sleep.
                    if (yielding && !policy.MayYield(now)) break;
                    if (yielding)
                    {
                        Thread.Yield();
                        long after = Stopwatch.GetTimestamp();
                        if (after - now > policy.CapTicks) policy.YieldStalled(after);
                        continue;
                    }
                }
                // Now and then give the CPU to whatever else is runnable on it: a peer woken onto our
                // CPU can then run (and say so in RunningCpu) instead of waiting for our spin to end.
                if ((polls & 127) == 0) Thread.Yield();
                else Thread.SpinWait(1);
            }
        }
        v = Sleep(old, deadline);
        if (v != old)
        {
            policy.Observe(Stopwatch.GetTimestamp() - start, plan.Style != WaitStyle.Sleep ? WaitOutcome.SpunThenSlept : WaitOutcome.Slept);
            SleptWaits++;
            return Ran(v);
        }
        return v;
    }

    // The VCPU halted (the device model's view): no exit comes until an interrupt.
    private bool PeerHalted => _peerIdle != null && Volatile.Read(ref *_peerIdle) != 0;

    // The peer last ran on our CPU (RunningCpu: where its last wait ended; 0 unknown, never equal).
    private bool PeerOnCpu(uint myCpu) => _peerWords != null && Volatile.Read(ref _peerWords->RunningCpu) == myCpu;

    // Tells the peer's adaptive waiter where we run now.
    private uint Ran(uint v)
    {
        Volatile.Write(ref _words->RunningCpu, (uint)Thread.GetCurrentProcessorId() + 1);
        return v;
    }

    private uint Sleep(uint old, long deadline)
    {
        uint v;
        while (true)
        {
            Interlocked.Exchange(ref _words->Sleeping, 1);
            v = Volatile.Read(ref _words->Seq);
            if (v == old)
            {
                long remaining = (deadline - Stopwatch.GetTimestamp()) * 1_000_000 / Stopwatch.Frequency;
                if (remaining > 0) Futex.Wait(&_words->Seq, old, remaining);
                v = Volatile.Read(ref _words->Seq);
            }
            Volatile.Write(ref _words->Sleeping, 0);
            if (v != old || Stopwatch.GetTimestamp() >= deadline) return v;
        }
    }

    private uint WaitSocket(uint old, long timeoutMicros)
    {
        long deadline = Stopwatch.GetTimestamp() + timeoutMicros * Stopwatch.Frequency / 1_000_000;
        while (true)
        {
            uint v = Volatile.Read(ref _words->Seq);
            if (v != old) return v;
            long remaining = (deadline - Stopwatch.GetTimestamp()) * 1_000_000 / Stopwatch.Frequency;
            if (remaining <= 0) return old;
            if (_socket!.Poll((int)Math.Min(remaining, int.MaxValue), SelectMode.SelectRead))
            {
                if (_socket.Receive(_buffer) == 0) return old; // peer closed: the caller's liveness check notices
            }
        }
    }
}
