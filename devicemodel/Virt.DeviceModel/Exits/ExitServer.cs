using Virt.DeviceModel.Assist;
using Virt.DeviceModel.Hosting;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModel.Exits;

/// <summary>
/// The device model's half of the exit path for one VCPU: sleep on the ToDevice doorbell; perform
/// the batched writes the exit carries in the OUT ring (in order, before anything else); serve the
/// exit in place (a Flush exit has nothing more; an assisted string exit goes to the I/O assist);
/// republish the devices' cacheable reads; write Status and ring ToMonitor with the exit's Seq.
/// Runs on its own thread.
/// </summary>
public sealed unsafe class ExitServer
{
    private readonly byte* _region;
    private readonly int _vcpu;
    private readonly Doorbell _toDevice;
    private readonly Doorbell _toMonitor;
    private readonly IExitDispatcher _dispatcher;
    private readonly Func<bool> _keepRunning;
    private readonly HostileBehaviour? _hostile;
    private readonly DeviceBus? _bus;
    private readonly StringIoAssistant? _assist;
    private readonly VcpuStateAccess? _state;
    // An exit already served whose commit needed a round trip of its own: the next publish completes it.
    private (uint Seq, CompletionStatus Status, ulong Data, uint Arg)? _continuation;

    public ExitServer(SharedRegion comm, int vcpu, WakeMode mode, int spinMicros, IExitDispatcher dispatcher,
        Func<bool> keepRunning, HostileBehaviour? hostile = null, System.Net.Sockets.Socket? doorbellSocket = null,
        DeviceBus? bus = null, StringIoAssistant? assist = null, VcpuStateAccess? state = null)
    {
        _region = comm.Base;
        _vcpu = vcpu;
        ref CommPage page = ref CommPageAccess.Page(_region, vcpu);
        fixed (DoorbellWords* toDevice = &page.ToDevice)
        fixed (DoorbellWords* toMonitor = &page.ToMonitor)
        {
            // The page is a file mapping: its address does not move, the fixed is only for the compiler.
            _toDevice = new Doorbell(toDevice, mode, spinMicros, doorbellSocket);
            _toMonitor = new Doorbell(toMonitor, mode, spinMicros, doorbellSocket);
        }
        _dispatcher = dispatcher;
        _keepRunning = keepRunning;
        _hostile = hostile;
        _bus = bus;
        _assist = assist;
        _state = state;
    }

    public long Served { get; private set; }

    public void Run()
    {
        ref CommPage page = ref CommPageAccess.Page(_region, _vcpu);
        Span<byte> data = CommPageAccess.DataPage(_region, _vcpu);
        // Start from the last completed exit, not the last published one: an exit published before
        // this thread started is then still seen.
        uint last = _toMonitor.Current;
        while (true)
        {
            uint seq = _toDevice.WaitWhile(last, 100_000);
            if (seq == last)
            {
                if (!_keepRunning()) return;
                continue;
            }
            last = seq;
            CompletionStatus status;
            uint arg;
            if (_continuation is { } c && page.Exit.Seq == c.Seq + 1)
            {
                // The monitor loaded our commit and republished: this exit is already served.
                _continuation = null;
                status = c.Status;
                arg = c.Arg;
                page.Exit.Data = c.Data;
            }
            else
            {
                _continuation = null;
                status = Serve(ref page, data, out arg);
                if (status is CompletionStatus.Ok or CompletionStatus.StopVm && page.Header.StateCommit != 0 && _state is { CommitOnCompletion: false })
                {
                    // SetState as an ioctl (`--state naive`): the commit is a round trip of its own.
                    _continuation = (page.Exit.Seq, status, page.Exit.Data, arg);
                    page.DeviceCounters.CommitRoundTrips++;
                    status = CompletionStatus.NeedState;
                    arg = 0;
                }
            }
            if (status == CompletionStatus.Unhandled) page.DeviceCounters.Unhandled++;
            page.Exit.StatusArg = arg;
            page.Exit.Status = (uint)status;
            _hostile?.BeforeComplete(ref page, _toMonitor, seq);
            page.DeviceCounters.ExitsServed++;
            Served++;
            _toMonitor.Ring(seq);
        }
    }

    private CompletionStatus Serve(ref CommPage page, Span<byte> data, out uint arg)
    {
        arg = 0;
        if (_bus is null) return _dispatcher.Dispatch(ref page.Exit, data, out arg);
        lock (_bus.Lock)
        {
            uint? stop = _bus.Drain(ref page);
            CompletionStatus status;
            ref ExitRecord exit = ref page.Exit;
            if (exit.Reason == (uint)ExitReason.Flush)
                status = CompletionStatus.Ok;
            else if ((exit.Flags & (byte)ExitFlags.Assist) != 0)
                status = _assist is not null && exit.Reason == (uint)ExitReason.PortIo && _bus.DeviceAtPort(exit.Address) is { } dev
                    ? _assist.Serve(ref page, dev)
                    : CompletionStatus.Unhandled;
            else
            {
                _bus.BeginExit(ref page);
                try { status = _dispatcher.Dispatch(ref exit, data, out arg); }
                finally { _bus.EndExit(); }
                // A synchronous write may have changed a device's configuration (UART IER/LCR/MCR...): keep the
                // crash snapshot current, so a replacement after a kill starts from it (docs/abi.md, "Crash state").
                // Only writes to a device that has state to keep (not the exit port, PCI, i8042...).
                if (exit.Direction == (byte)ExitDirection.Write && exit.Reason is (uint)ExitReason.PortIo or (uint)ExitReason.Mmio
                    && _bus.IsStateful(exit.Reason, exit.Address))
                    _bus.SnapshotForCrash();
            }
            if (stop is { } s && status == CompletionStatus.Ok)
            {
                status = CompletionStatus.StopVm;
                arg = s;
            }
            if (status != CompletionStatus.NeedState) _bus.RefreshCachedReads();
            return status;
        }
    }
}
