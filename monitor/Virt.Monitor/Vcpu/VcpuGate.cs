using Virt.Shared.Control;

namespace Virt.Monitor.Vcpu;

/// <summary>
/// Where the VCPU thread stops for the rest of the monitor. Attach, detach and swap take a
/// <see cref="PauseAsync">hold</see>: the VCPU is asked to leave Run at the next instruction
/// boundary (Cpu.RequestStop) and parks in <see cref="Checkpoint"/>; routing changes only while it
/// is parked. A VCPU whose exit went to a device model that died or hung parks inside that exit
/// (<see cref="Stall"/>) until the failed device model is retired (replaced or detached). Holds
/// nest: a swap holds the VCPU while the new device model's attach takes its own hold.
/// </summary>
public sealed class VcpuGate(Action kick)
{
    private readonly object _lock = new();
    private int _holds;
    private bool _parked = true; // until the VCPU starts, it is as good as parked
    private bool _ended;
    private string? _stall;

    public VcpuRunState State
    {
        get
        {
            lock (_lock)
            {
                if (_ended) return VcpuRunState.Ended;
                if (_stall is not null) return VcpuRunState.Stalled;
                if (_holds > 0 && _parked) return VcpuRunState.Paused;
                return _parked ? VcpuRunState.Starting : VcpuRunState.Running;
            }
        }
    }

    /// <summary>Why the VCPU is stalled (which device model, which exit), or null.</summary>
    public string? StallReason
    {
        get { lock (_lock) return _stall; }
    }

    /// <summary>Takes a hold and waits until the VCPU is parked at an instruction boundary (or stalled in an exit, or not running).</summary>
    public async Task<IDisposable> PauseAsync()
    {
        lock (_lock) _holds++;
        await Task.Run(() =>
        {
            lock (_lock)
            {
                while (!_parked && !_ended)
                {
                    kick();
                    System.Threading.Monitor.Wait(_lock, 20);
                }
            }
        });
        return new Hold(this);
    }

    private void Release()
    {
        lock (_lock)
        {
            _holds--;
            System.Threading.Monitor.PulseAll(_lock);
        }
    }

    private sealed class Hold(VcpuGate gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release();
        }
    }

    /// <summary>VCPU thread, between slices: parks while a hold is taken or <paramref name="stalled"/> says a failed device model is in the way.</summary>
    public void Checkpoint(Func<string?> stalled, Func<bool> ending)
    {
        lock (_lock)
        {
            while (!ending())
            {
                string? why = stalled();
                if (_holds == 0 && why is null) break;
                _stall = why;
                Park();
            }
            _stall = null;
            _parked = false;
        }
    }

    /// <summary>VCPU thread, inside an exit the device model failed: parks until <paramref name="resolved"/> holds and no hold is taken.</summary>
    public void Stall(string why, Func<bool> resolved, Func<bool> ending)
    {
        lock (_lock)
        {
            _stall = why;
            while (!ending() && (_holds > 0 || !resolved())) Park();
            _stall = null;
            _parked = false;
        }
    }

    private void Park()
    {
        _parked = true;
        System.Threading.Monitor.PulseAll(_lock);
        System.Threading.Monitor.Wait(_lock, 50);
    }

    /// <summary>Wakes a parked VCPU to re-check its conditions (a device model failed or was retired).</summary>
    public void Nudge()
    {
        lock (_lock) System.Threading.Monitor.PulseAll(_lock);
    }

    /// <summary>The VCPU thread has left for good: holds no longer wait for it.</summary>
    public void End()
    {
        lock (_lock)
        {
            _ended = true;
            _parked = true;
            System.Threading.Monitor.PulseAll(_lock);
        }
    }
}
