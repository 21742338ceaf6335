using System.Diagnostics;
using System.Text;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.Input;
using Virt.Devices.Pci;
using Virt.Devices.Platform;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Devices.Timing;
using Virt.Pc.Boot;
using Virt.Pc.Wiring;
using Virt.Shared.Routing;

namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// A whole PC in one process for booting Linux on the CPU core: guest RAM, the Cpu, and every
/// device of the board (<see cref="Virt.Pc.Board.PcBoard"/>: the <see cref="PcChipset"/> the monitor
/// hosts and the <see cref="PcPeripherals"/> a device model hosts) directly behind the exit handler. Drives time itself: the CPU runs in slices, timed
/// devices are advanced between slices, and HLT sleeps until the next device deadline.
/// Not the monitor (which splits devices across processes): a harness to find CPU bugs.
/// </summary>
public sealed class InProcessPc : IExitHandler, IDeviceHost, IDisposable
{
    private readonly IDevice?[] _ports = new IDevice?[65536];
    private readonly List<IDevice> _devices = new();
    private readonly List<ITimedDevice> _timed = new();
    private readonly List<(BusRange Range, IDevice Device)> _mmio = new();
    private readonly ConsoleSink _console;

    /// <param name="nanosecondsPerInstruction">
    /// 0: real time (devices and TSC on the host clock, HLT sleeps). Otherwise virtual time: an
    /// <see cref="InstructionClock"/> at this many ns per instruction drives the TSC and devices.
    /// </param>
    /// <param name="withApic">Adds a local APIC and an I/O APIC (and reports the APIC in CPUID); otherwise PIC + PIT only.</param>
    public InProcessPc(uint ramBytes = 256u << 20, Action<byte>? consoleEcho = null, long nanosecondsPerInstruction = 0, bool withApic = false)
    {
        RamBytes = ramBytes;
        Ram = new GuestRam(ramBytes);
        Memory = new PhysicalMemory(Ram);
        Cpu = new Cpu(Memory, this);
        if (nanosecondsPerInstruction > 0)
        {
            VirtualClock = new InstructionClock(() => Cpu.InstructionsRetired, nanosecondsPerInstruction, DateTimeOffset.UtcNow);
            Cpu.TscClock = VirtualClock;
            Cpu.TscTicksPerInstruction = nanosecondsPerInstruction * Cpu.TscHz / 1_000_000_000; // native code reads the TSC inline
        }
        Time = (TimeProvider?)VirtualClock ?? TimeProvider.System;
        _guestStart = Time.GetTimestamp();
        _console = new ConsoleSink(consoleEcho);

        // The board's devices, as the monitor and virt-dm build them, but all in this process.
        Chipset = new PcChipset(withApic);
        Peripherals = new PcPeripherals(_console, ramBytes);
        foreach (IDevice d in Chipset.Devices) Add(d);
        foreach (IDevice d in Peripherals.Devices) Add(d);
        Chipset.Connect(Cpu);
        Chipset.LocalApic?.ConfigureVirtualWire();  // what the BIOS would leave
        I8042.ResetRequested += () => RequestReset("i8042 reset pulse");
        I8042.A20Changed += on => Memory.A20Enabled = on;
        Pci.ResetRequested += _ => RequestReset("0xCF9 reset control");
        PcBiosState.Prepare(Memory);
    }

    public PcChipset Chipset { get; }
    public PcPeripherals Peripherals { get; }

    /// <summary>Every device on this machine's bus, in the order they were added.</summary>
    public IReadOnlyList<IDevice> Devices => _devices;

    public LocalApic? LocalApic => Chipset.LocalApic;
    public IoApic? IoApic => Chipset.IoApic;

    public uint RamBytes { get; }
    public GuestRam Ram { get; }
    public PhysicalMemory Memory { get; }
    public Cpu Cpu { get; }
    public DualPic8259 Pic => Chipset.Pic;
    public Pit8254 Pit => Chipset.Pit;
    public Uart16550 Uart => Peripherals.Com1;
    public I8042Controller I8042 => Peripherals.I8042;
    public PciHostBridge Pci => Peripherals.Pci;

    public TimeProvider Time { get; }

    /// <summary>Set when the machine runs on virtual (instruction-count) time.</summary>
    public InstructionClock? VirtualClock { get; }

    private readonly long _guestStart;

    /// <summary>Time on the machine's clock since it was built (virtual or host).</summary>
    public TimeSpan GuestElapsed => Time.GetElapsedTime(_guestStart);

    /// <summary>Wall time spent sleeping in HLT (host-time mode).</summary>
    public TimeSpan HaltedWall { get; private set; }

    /// <summary>Everything the guest wrote to COM1 and port 0xE9.</summary>
    public string ConsoleText => _console.Text;

    /// <summary>Ports nobody claims, with access counts (diagnostics: what Linux probed).</summary>
    public Dictionary<ushort, int> UnclaimedPorts { get; } = new();

    public string? ResetReason { get; private set; }

    /// <summary>When set, every instruction from <see cref="TraceFrom"/> retired on is recorded (single-stepping).</summary>
    public GuestTracer? Tracer { get; set; }

    public long TraceFrom { get; set; }

    /// <summary>When set, the EIP at the end of every slice is counted here (a poor man's profiler).</summary>
    public Dictionary<uint, int>? EipSamples { get; set; }

    public string? StopReasonText { get; private set; }

    public LinuxBootLayout LoadLinux(byte[] bzImage, byte[] initrd, string commandLine) =>
        LinuxLoader.Load(Cpu, bzImage, initrd, commandLine, RamBytes);

    private void Add(IDevice d)
    {
        d.Attach(this);
        _devices.Add(d);
        if (d is ITimedDevice t) _timed.Add(t);
        foreach (var r in d.Ranges)
        {
            if (r.Space == AddressSpace.Mmio) { _mmio.Add((r, d)); Memory.MapMmio((uint)r.Start, (uint)r.Length); continue; }
            for (ulong p = r.Start; p < r.End; p++) _ports[p] ??= d;
        }
    }

    private void RequestReset(string why)
    {
        ResetReason ??= why;
        Cpu.RequestStop();
    }

    /// <summary>
    /// Runs the guest until <paramref name="until"/> says so (checked between slices), the wall
    /// clock limit passes, the guest resets or shuts down, or it halts with interrupts off for good.
    /// </summary>
    public void Run(TimeSpan wallLimit, Func<InProcessPc, bool> until, long sliceInstructions = 200_000)
    {
        var wall = Stopwatch.StartNew();
        while (true)
        {
            if (until(this)) { StopReasonText = "condition met"; return; }
            if (wall.Elapsed > wallLimit) { StopReasonText = "wall-clock limit"; return; }
            foreach (var t in _timed) t.Advance();
            FeedInput();
            long budget = Math.Min(sliceInstructions, InstructionsToNextDeadline());
            if (Tracer != null && Cpu.InstructionsRetired >= TraceFrom) { Tracer.Record(); budget = 1; }
            else if (Tracer != null) budget = Math.Min(budget, TraceFrom - Cpu.InstructionsRetired);
            var r = Cpu.Run(budget);
            if (EipSamples != null) { uint e = Cpu.State.Eip; EipSamples[e] = EipSamples.GetValueOrDefault(e) + 1; }
            if (ResetReason != null) { StopReasonText = "reset: " + ResetReason; return; }
            if (r == StopReason.Shutdown) { StopReasonText = "shutdown: " + Cpu.ShutdownReason; return; }
            if (r == StopReason.Halted)
            {
                if ((Cpu.State.Eflags & 0x200) == 0) { StopReasonText = "halted with interrupts off"; return; }
                WaitForDeadline();
            }
        }
    }

    private readonly Queue<byte> _input = new();

    /// <summary>Queues bytes for COM1's receiver; they enter as its FIFO has room (no overruns).</summary>
    public void Type(string text)
    {
        foreach (char c in text) _input.Enqueue((byte)c);
    }

    private void FeedInput()
    {
        if (_input.Count == 0) return;
        int n = Math.Min(_input.Count, Uart.ReceiveCapacity);
        if (n <= 0) return;
        var chunk = new byte[n];
        for (int i = 0; i < n; i++) chunk[i] = _input.Dequeue();
        Uart.Receive(chunk);
    }

    private TimeSpan? NextDeadline()
    {
        TimeSpan? next = null;
        foreach (var t in _timed)
        {
            if (t.NextDeadline is { } d && (next == null || d < next)) next = d;
        }
        return next;
    }

    /// <summary>Slices end at the next device deadline so timer interrupts arrive on time (virtual time: exactly).</summary>
    private long InstructionsToNextDeadline()
    {
        if (NextDeadline() is not { } d) return long.MaxValue;
        // Host time: assume ~50 instructions per microsecond, a rough figure for this interpreter.
        long nsPer = VirtualClock?.NanosecondsPerInstruction ?? 20;
        return Math.Max(1, d.Ticks * 100 / nsPer);
    }

    /// <summary>
    /// HLT: until the earliest timed-device deadline. Virtual time skips there at once; host time
    /// sleeps (at most 10 ms, so the loop stays responsive).
    /// </summary>
    private void WaitForDeadline()
    {
        if (VirtualClock != null)
        {
            VirtualClock.Skip(NextDeadline() ?? TimeSpan.FromMilliseconds(10));
            return;
        }
        TimeSpan wait = TimeSpan.FromMilliseconds(10);
        if (NextDeadline() is { } n && n < wait) wait = n;
        if (wait <= TimeSpan.Zero) return;
        long t0 = Stopwatch.GetTimestamp();
        if (wait > TimeSpan.FromMilliseconds(2)) Thread.Sleep(wait);
        else
        {
            long end = Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < end) Thread.SpinWait(50);
        }
        HaltedWall += Stopwatch.GetElapsedTime(t0);
    }

    // ---- IExitHandler ----
    public uint PortIn(ushort port, int size)
    {
        var d = _ports[port];
        if (d != null) return d.PortRead(port, size);
        Unclaimed(port);
        return IoSize.AllOnes32(size);
    }

    public void PortOut(ushort port, int size, uint value)
    {
        var d = _ports[port];
        if (d != null) d.PortWrite(port, size, value);
        else Unclaimed(port);
    }

    private void Unclaimed(ushort port) => UnclaimedPorts[port] = UnclaimedPorts.GetValueOrDefault(port) + 1;

    public ulong MmioRead(ulong address, int size)
    {
        foreach (var (r, d) in _mmio)
            if (r.Contains(address)) return d.MmioRead(address, size);
        return IoSize.AllOnes(size);
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        foreach (var (r, d) in _mmio)
            if (r.Contains(address)) { d.MmioWrite(address, size, value); return; }
    }

    // ---- IDeviceHost ----
    /// <summary>An ISA line, wired as on the board (IRQ0 on I/O APIC pin 2).</summary>
    public void SetIrq(int line, bool high) => Chipset.SetIrq(line, high);

    public void ReadGuest(ulong address, Span<byte> into) => Memory.Read((uint)address, into);

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data) => Memory.Load((uint)address, data);

    public void Dispose()
    {
        Memory.Dispose();
        Ram.Dispose();
    }

    /// <summary>Collects console bytes (and echoes them if asked).</summary>
    private sealed class ConsoleSink(Action<byte>? echo) : IByteSink
    {
        private readonly StringBuilder _text = new();

        public string Text { get { lock (_text) return _text.ToString(); } }

        public void Write(byte value)
        {
            lock (_text) _text.Append((char)value);
            echo?.Invoke(value);
        }
    }
}
