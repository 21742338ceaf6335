using Virt.Cpu.Execution;

namespace Virt.Monitor.Debug;

/// <summary>
/// Where the GDB stub meets the VCPU thread. The VCPU parks here when the debugger stops it (attach,
/// -S, Ctrl-C, a breakpoint, a watchpoint, a finished step) and the stub reads and writes the CPU
/// only while it is parked (<see cref="WithStoppedCpu"/>). With no breakpoint, no watchpoint and no
/// step pending the guest runs through <c>Cpu.Run</c> at full speed with nothing checked; otherwise
/// <see cref="Run"/> takes one instruction at a time: events first (<c>Run(0)</c> delivers a
/// pending interrupt without executing), the breakpoint set against the linear PC, then
/// <c>Run(1)</c>, then the watchpoint hit. Without --gdb there is no instance at all.
/// </summary>
public sealed class GuestDebugger
{
    private enum Phase { Running, Stopping, Stopped }

    private readonly object _lock = new();
    private readonly Cpu.Cpu _cpu;
    private readonly Action _kick;
    private Phase _phase;
    // Read by the VCPU thread on every slice (and instruction, when stepping): plain volatile flags.
    private volatile bool _parkRequested;
    private volatile bool _checkEachInstruction;
    private bool _step;
    private uint? _resumedAt; // the PC the guest resumed at: a breakpoint there does not stop it again at once
    private bool _watchChanged;
    private StopEvent _stop;
    private StopEvent? _ended;
    private TaskCompletionSource<StopEvent> _stopped = NewStop();

    /// <param name="waitForDebugger">-S: parked before the first instruction until a debugger resumes the guest.</param>
    /// <param name="kick">Gets the VCPU out of Run and out of a halt (as the pause gate's kick).</param>
    public GuestDebugger(Cpu.Cpu cpu, bool waitForDebugger, Action kick)
    {
        _cpu = cpu;
        _kick = kick;
        if (waitForDebugger)
        {
            _phase = Phase.Stopping;
            _stop = StopEvent.Trap;
            _parkRequested = true;
        }
    }

    public BreakpointSet Breakpoints { get; } = new();
    public WatchpointSet Watchpoints { get; } = new();

    private static TaskCompletionSource<StopEvent> NewStop() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---- The VCPU thread ----

    /// <summary>The VCPU must park (<see cref="Park"/>) instead of running the guest.</summary>
    public bool ParkRequested => _parkRequested;

    /// <summary>
    /// VCPU thread: parks until resumed, at most 50 ms at a time so the loop still passes its pause
    /// gate and sees the VM end (a parked debugger must not block attach, detach or Ctrl-C of virt).
    /// </summary>
    public void Park(Func<bool> ending)
    {
        lock (_lock)
        {
            if (_phase == Phase.Stopping)
            {
                _phase = Phase.Stopped;
                _stopped.TrySetResult(_stop);
            }
            if (_phase == Phase.Stopped && !ending()) System.Threading.Monitor.Wait(_lock, 50);
        }
    }

    /// <summary>VCPU thread: runs the guest for at most <paramref name="budget"/> instructions, stopping where the debugger asked.</summary>
    public StopReason Run(long budget)
    {
        if (!_checkEachInstruction) return _cpu.Run(budget);
        for (long n = 0; n < budget; n++)
        {
            if (_parkRequested) return StopReason.StopRequested;
            StopReason r = _cpu.Run(0); // a pending interrupt is delivered now, so a breakpoint on its handler is seen
            if (r != StopReason.BudgetExhausted) return r;
            if (WatchHit()) return StopReason.StopRequested;
            uint pc = _cpu.State.Cs.Base + _cpu.State.Eip;
            if (pc != _resumedAt && Breakpoints.At(pc) is { } kind)
            {
                StopHere(new StopEvent(kind, StopEvent.Sigtrap));
                return StopReason.StopRequested;
            }
            _resumedAt = null;
            r = _cpu.Run(1);
            if (r == StopReason.Shutdown) return r;
            if (WatchHit()) return StopReason.StopRequested;
            if (_step)
            {
                StopHere(StopEvent.Trap);
                return StopReason.StopRequested;
            }
            if (r != StopReason.BudgetExhausted) return r;
        }
        return StopReason.BudgetExhausted;
    }

    private bool WatchHit()
    {
        if (Watchpoints.TakeHit() is not { } hit) return false;
        StopHere(new StopEvent(StopKind.Watchpoint, StopEvent.Sigtrap, hit.Kind, hit.Address));
        return true;
    }

    private void StopHere(StopEvent why)
    {
        lock (_lock)
        {
            if (_phase != Phase.Running) return; // a Ctrl-C that came first is the stop reported
            _phase = Phase.Stopping;
            _stop = why;
            _parkRequested = true;
        }
    }

    /// <summary>The VM ended (any thread): a debugger waiting for a stop is told the exit status.</summary>
    public void VmEnded(int status)
    {
        lock (_lock)
        {
            _ended ??= new StopEvent(StopKind.Exited, 0, ExitStatus: status);
            _stopped.TrySetResult(_ended.Value);
            System.Threading.Monitor.PulseAll(_lock);
        }
    }

    // ---- The stub ----

    /// <summary>Asks the running guest to stop (attach, Ctrl-C); the stop is reported through <see cref="WaitForStopAsync"/>.</summary>
    public void RequestStop(StopEvent why)
    {
        lock (_lock)
        {
            if (_phase != Phase.Running || _ended is not null) return;
            _phase = Phase.Stopping;
            _stop = why;
            _parkRequested = true;
        }
        _kick();
    }

    /// <summary>Completes when the VCPU is parked (with why it stopped) or the VM has ended.</summary>
    public Task<StopEvent> WaitForStopAsync()
    {
        lock (_lock) return _ended is { } e ? Task.FromResult(e) : _stopped.Task;
    }

    /// <summary>The stop being reported, when the guest is stopped; null while it runs.</summary>
    public StopEvent? CurrentStop
    {
        get { lock (_lock) return _ended ?? (_phase == Phase.Stopped ? _stop : null); }
    }

    /// <summary>Runs <paramref name="action"/> on the parked CPU; <paramref name="whenRunning"/> if the guest is not stopped.</summary>
    public T WithStoppedCpu<T>(Func<Cpu.Cpu, T> action, T whenRunning)
    {
        lock (_lock) return _phase == Phase.Stopped && _ended is null ? action(_cpu) : whenRunning;
    }

    /// <summary>Changes the breakpoints or watchpoints (only while stopped): false when the guest runs or the change is refused.</summary>
    public bool Change(Func<GuestDebugger, bool> change)
    {
        lock (_lock)
        {
            if (_phase != Phase.Stopped || _ended is not null) return false;
            bool hadWatch = Watchpoints.Count > 0;
            bool ok = change(this);
            _watchChanged |= hadWatch || Watchpoints.Count > 0;
            return ok;
        }
    }

    /// <summary>Lets the parked guest go: one instruction (<paramref name="step"/>) or until the next stop. False when it is not stopped.</summary>
    public bool Resume(bool step)
    {
        lock (_lock)
        {
            if (_phase != Phase.Stopped || _ended is not null) return false;
            if (_watchChanged)
            {
                // The CPU keeps watched pages out of its TLB: it is told while parked (the setter flushes the TLB).
                _cpu.Watch = Watchpoints.Count > 0 ? Watchpoints : null;
                _watchChanged = false;
            }
            Watchpoints.TakeHit();
            _step = step;
            _resumedAt = _cpu.State.Cs.Base + _cpu.State.Eip;
            _checkEachInstruction = step || Breakpoints.Count > 0 || Watchpoints.Count > 0;
            _stopped = NewStop();
            _phase = Phase.Running;
            _parkRequested = false;
            System.Threading.Monitor.PulseAll(_lock);
            return true;
        }
    }

    /// <summary>
    /// The debugger went (D, or the connection closed): every breakpoint and watchpoint goes and the
    /// guest runs on at full speed. Waits for a running guest to park first, as the CPU's watch may
    /// only change while it does not run.
    /// </summary>
    public async Task DetachAsync()
    {
        RequestStop(StopEvent.Interrupted);
        await WaitForStopAsync();
        lock (_lock)
        {
            if (_ended is not null) return;
            Breakpoints.Clear();
            Watchpoints.Clear();
            _watchChanged = true;
        }
        Resume(step: false);
    }
}
