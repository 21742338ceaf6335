using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModel.Exits;

/// <summary>
/// The device model's half of the exit path for one VCPU: sleep on the ToDevice doorbell, service
/// the exit record in place, write Status, ring ToMonitor with the exit's Seq. Runs on its own thread.
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

    public ExitServer(SharedRegion comm, int vcpu, WakeMode mode, int spinMicros, IExitDispatcher dispatcher,
        Func<bool> keepRunning, HostileBehaviour? hostile = null, System.Net.Sockets.Socket? doorbellSocket = null)
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
            CompletionStatus status = _dispatcher.Dispatch(ref page.Exit, data, out uint arg);
            if (status == CompletionStatus.Unhandled) page.DeviceCounters.Unhandled++;
            page.Exit.StatusArg = arg;
            page.Exit.Status = (uint)status;
            _hostile?.BeforeComplete(ref page, _toMonitor, seq);
            page.DeviceCounters.ExitsServed++;
            Served++;
            _toMonitor.Ring(seq);
        }
    }
}
