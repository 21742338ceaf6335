using System.Diagnostics;
using Virt.DeviceModelKit.Assist;
using Virt.DeviceModelKit.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModelKit.Exits;

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
    private readonly IExitHandler _handler;
    private readonly Func<bool> _keepRunning;
    private readonly OutputConfirmation _confirmation;
    private readonly StringIoAssistant? _assist;
    private readonly VcpuStateAccess _state;
    private readonly ICompletionObserver? _observer;
    // An exit already served whose commit needed a round trip of its own: the next publish completes it.
    private (uint Seq, CompletionStatus Status, ulong Data, uint Arg)? _continuation;

    /// <param name="assist">Serves assisted REP INS/OUTS; null: such exits are Unhandled (the monitor then does them itself).</param>
    public ExitServer(SharedRegion comm, int vcpu, WakeMode mode, int spinMicros, IExitHandler handler, Func<bool> keepRunning,
        OutputConfirmation confirmation, VcpuStateAccess state, StringIoAssistant? assist = null,
        System.Net.Sockets.Socket? doorbellSocket = null, ICompletionObserver? observer = null)
    {
        _region = comm.Base;
        _vcpu = vcpu;
        ref CommPage page = ref CommPageAccess.Page(_region, vcpu);
        fixed (DoorbellWords* toDevice = &page.ToDevice)
        fixed (DoorbellWords* toMonitor = &page.ToMonitor)
        fixed (uint* monitorIdle = &page.Irq.MonitorIdle)
        {
            // The page is a file mapping: its address does not move, the fixed is only for the compiler.
            // Adaptive: no point spinning for the next exit while the VCPU is halted.
            _toDevice = new Doorbell(toDevice, mode, spinMicros, doorbellSocket, monitorIdle, toMonitor);
            _toMonitor = new Doorbell(toMonitor, mode, spinMicros, doorbellSocket);
        }
        _handler = handler;
        _keepRunning = keepRunning;
        _confirmation = confirmation;
        _state = state;
        _assist = assist;
        _observer = observer;
    }

    public long Served { get; private set; }

    /// <summary>
    /// Bytes this thread allocated since it started serving (GC.GetAllocatedBytesForCurrentThread,
    /// updated after each exit): the exit path's allocations, zero once warm (docs/wakeup.md). Read by
    /// the control thread for the runtime counters.
    /// </summary>
    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    private long _allocatedBytes;

    /// <summary>Exits during whose service this process's GC ran (its pause is in their round trip).</summary>
    public long ServedDuringGc { get; private set; }

    /// <summary>The doorbell this server waits on for the next exit (its adaptive policy is observable).</summary>
    public Doorbell ToDevice => _toDevice;

    public void Run()
    {
        ref CommPage page = ref CommPageAccess.Page(_region, _vcpu);
        Span<byte> data = CommPageAccess.DataPage(_region, _vcpu);
        // Start from the last completed exit, not the last published one: an exit published before
        // this thread started is then still seen.
        uint last = _toMonitor.Current;
        // Adaptive: a monitor that slept when we completed has a wake-up ahead of it; the next exit is not soon.
        bool monitorWasAsleep = false;
        long allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        while (true)
        {
            uint seq = _toDevice.WaitWhile(last, 100_000, peerRunning: !monitorWasAsleep);
            if (seq == last)
            {
                if (!_keepRunning()) return;
                continue;
            }
            // The monitor's split of the round trip, when it asks (ExitRecord.SeenAt): Stopwatch is CLOCK_MONOTONIC, one clock for both processes.
            bool stamp = page.Exit.SeenAt != 0;
            if (stamp) page.Exit.SeenAt = Stopwatch.GetTimestamp();
            int collections = GC.CollectionCount(0);
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
                if (status is CompletionStatus.Ok or CompletionStatus.StopVm && page.Header.StateCommit != 0 && !_state.CommitOnCompletion)
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
            _observer?.BeforeComplete(ref page, _toMonitor, seq);
            page.DeviceCounters.ExitsServed++;
            Served++;
            // Before the ring: a monitor that asks for the counters once it has this completion sees this exit's share.
            Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread() - allocatedAtStart);
            if (GC.CollectionCount(0) != collections) ServedDuringGc++;
            if (stamp) page.Exit.CompletedAt = Stopwatch.GetTimestamp();
            monitorWasAsleep = _toMonitor.Ring(seq);
        }
    }

    private CompletionStatus Serve(ref CommPage page, Span<byte> data, out uint arg)
    {
        arg = 0;
        lock (_handler.Lock)
        {
            uint? stop = OutRingReader.Drain(ref page, _handler, _confirmation);
            CompletionStatus status;
            ref ExitRecord exit = ref page.Exit;
            if (exit.Reason == (uint)ExitReason.Flush)
                status = CompletionStatus.Ok;
            else if ((exit.Flags & (byte)ExitFlags.Assist) != 0)
                status = _assist is not null && exit.Reason == (uint)ExitReason.PortIo && exit.Address <= 0xFFFF && _handler.PortAt((ushort)exit.Address) is { } port
                    ? _assist.Serve(ref page, port)
                    : CompletionStatus.Unhandled;
            else
            {
                _confirmation.BeginExit(ref page);
                try { status = _handler.Dispatch(ref exit, data, out arg); }
                finally { _confirmation.End(); }
            }
            if (stop is { } s && status == CompletionStatus.Ok)
            {
                status = CompletionStatus.StopVm;
                arg = s;
            }
            _handler.Served(in exit, status);
            return status;
        }
    }
}
