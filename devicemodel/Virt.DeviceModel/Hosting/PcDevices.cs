using Virt.Devices.Bus;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Devices.Timing;
using Virt.Pc.Board;
using Virt.Pc.Wiring;
using Virt.Shared.Abi;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// Hosts the board's <see cref="DeviceHome.DeviceModel"/> devices (<see cref="PcPeripherals"/>:
/// COM1, the debug console, the exit port, the RTC/CMOS, the POST port, the i8042 and the PCI host
/// bridge, at the ports and lines <see cref="PcBoard"/> gives them) on this device model's bus, and
/// their console: COM1 and the debug console write to stdout (--serial stdio), a file, or nowhere;
/// stdin feeds COM1's receiver. What only the monitor can do (end the run, reset the machine, move
/// the A20 gate) completes the exit that caused it (docs/abi.md). A timer thread runs the devices'
/// deadlines (RTC periodic interrupt, UART character timeout) and flushes the console.
/// A model may host a subset (virt-dm --devices), so two models can split the PC between them.
/// </summary>
public sealed class PcDevices : IDisposable
{
    private readonly DeviceBus _bus;
    private readonly Uart16550 _uart;
    private readonly List<ITimedDevice> _timed = new();
    private readonly Stream? _console;
    private readonly bool _readStdin;
    private Thread? _timer;
    private Func<bool> _keepRunning = () => false;

    private PcDevices(DeviceBus bus, Uart16550 uart, Stream? console, bool readStdin)
    {
        _bus = bus;
        _uart = uart;
        _console = console;
        _readStdin = readStdin;
    }

    /// <summary>The names --devices takes, in the order the devices are added to the bus (<see cref="PcBoard.DeviceModelNames"/>).</summary>
    public static IReadOnlyList<string> DeviceNames => PcBoard.DeviceModelNames;

    /// <summary>Builds the devices named in <paramref name="only"/> (every PC device when null).</summary>
    public static PcDevices Create(DeviceBus bus, IDeviceHost host, ulong ramSize, string serial, IReadOnlySet<string>? only = null)
    {
        // Unbuffered (bufferSize 0): a byte the guest sent is in the file, never in this process's memory
        // where a kill would lose it after it was confirmed.
        Stream? console = serial switch
        {
            "stdio" => Console.OpenStandardOutput(),
            "none" => null,
            _ => new FileStream(serial["file:".Length..], FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0),
        };
        // Each byte is confirmed in the comm page just before its write (ConsoleFdSink, DeviceBus.ConfirmOutput):
        // after a kill -9 the monitor replays only what never reached the console.
        IByteSink sink = console switch
        {
            null => NullByteSink.Instance,
            FileStream fs => new ConsoleFdSink((int)fs.SafeFileHandle.DangerousGetHandle(), bus.ConfirmOutput),
            _ => new ConsoleFdSink(1, bus.ConfirmOutput), // stdout
        };
        var peripherals = new PcPeripherals(sink, ramSize);
        // Only a model that hosts COM1 feeds it from stdin: two models must not race for the terminal.
        bool hostsCom1 = only is null || only.Contains(PcBoard.Com1.Name);
        var pc = new PcDevices(bus, peripherals.Com1, console, serial == "stdio" && hostsCom1);
        // The exit port reports the status; the exit record carries the value written back to the monitor.
        peripherals.DebugExit.ExitRequested += status => bus.StopRequest = (uint)status >> 1;
        // A reset outranks an A20 change made by the same write.
        peripherals.I8042.ResetRequested += () => bus.Event = PlatformEvent.Reset;
        peripherals.I8042.A20Changed += on => bus.Event = bus.Event == PlatformEvent.Reset ? PlatformEvent.Reset : on ? PlatformEvent.A20On : PlatformEvent.A20Off;
        peripherals.Pci.ResetRequested += _ => bus.Event = PlatformEvent.Reset;
        foreach (IDevice d in peripherals.Only(only))
        {
            d.Attach(host);
            bus.Add(d);
            if (d is ITimedDevice t) pc._timed.Add(t);
        }
        return pc;
    }

    public void Start(Func<bool> keepRunning)
    {
        _keepRunning = keepRunning;
        _timer = new Thread(TimerLoop) { Name = "device-timers", IsBackground = true };
        _timer.Start();
        if (_readStdin) new Thread(StdinLoop) { Name = "console-in", IsBackground = true }.Start();
    }

    private void TimerLoop()
    {
        while (_keepRunning())
        {
            TimeSpan wait = TimeSpan.FromMilliseconds(10);
            lock (_bus.Lock)
            {
                foreach (ITimedDevice t in _timed)
                {
                    if (t.NextDeadline is not { } due) continue;
                    if (due <= TimeSpan.Zero)
                    {
                        t.Advance();
                        due = t.NextDeadline ?? wait;
                    }
                    if (due < wait) wait = due;
                }
                // Time moved (the RTC's clock fields): the cached reads follow it.
                _bus.RefreshCachedReads();
                // Output without a newline (a prompt) still reaches the console promptly.
                _console?.Flush();
            }
            Thread.Sleep(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait);
        }
    }

    private void StdinLoop()
    {
        using Stream stdin = Console.OpenStandardInput();
        byte[] buffer = new byte[256];
        while (_keepRunning())
        {
            int n;
            try { n = stdin.Read(buffer); } catch (IOException) { return; }
            if (n <= 0) return;
            for (int i = 0; i < n && _keepRunning();)
            {
                lock (_bus.Lock)
                {
                    int room = Math.Min(_uart.ReceiveCapacity, n - i);
                    if (room > 0) i += _uart.Receive(buffer.AsSpan(i, room));
                    _bus.RefreshCachedReads(); // LSR.DR changed
                }
                if (i < n) Thread.Sleep(1); // the guest has not drained the FIFO yet: back-pressure
            }
        }
    }

    /// <summary>Pushes console output still buffered (a line without its newline) out now: before the devices' state moves to another device model.</summary>
    public void Flush()
    {
        lock (_bus.Lock) _console?.Flush();
    }

    public void Dispose()
    {
        lock (_bus.Lock) _console?.Flush();
        if (_console is FileStream) _console.Dispose();
    }
}
