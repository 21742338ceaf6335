using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.Platform;
using Virt.Devices.Timing;
using Virt.Monitor.Routing;
using Virt.Pc.Board;
using Virt.Pc.Boot;
using Virt.Pc.Wiring;
using Virt.Shared.Routing;

namespace Virt.Monitor.Vm;

/// <summary>
/// Hosts the board's <see cref="DeviceHome.Monitor"/> devices (<see cref="PcChipset"/>: the 8259
/// pair, the PIT with port 0x61, with <c>apic</c> the local and I/O APICs, wired as the board says)
/// in the monitor, as KVM keeps them in the kernel: their ranges are routed locally, their timers
/// run on the VCPU thread on one <see cref="GuestClock"/>, and the device models' IRQ lines reach
/// them through <see cref="SetIrq"/>. Also leaves the state a PC BIOS would (<see cref="PrepareFirmwareState"/>).
/// With `--place com1=monitor` it hosts COM1 too (<see cref="MonitorSerialPort"/>), routed and timed like the others.
/// </summary>
public sealed class PcPlatform : IDeviceHost
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    private readonly PhysicalMemory _memory;
    private readonly List<ITimedDevice> _timed = new();
    private readonly MonitorSerialPort? _com1;

    private Cpu.Cpu? _cpu;

    /// <param name="apic">Adds the local APIC and I/O APIC (and CPUID's APIC bit); otherwise a PIC-only PC.</param>
    /// <param name="instructionTime">Guest time from instructions retired (<see cref="GuestClock"/>); otherwise host time.</param>
    /// <param name="com1">COM1 placed in the monitor; null: a device model hosts it (the board's default).</param>
    public PcPlatform(PhysicalMemory memory, ExitRouter router, bool apic, bool instructionTime, MonitorSerialPort? com1 = null)
    {
        _memory = memory;
        _com1 = com1;
        // The CPU is connected after the devices claim their ports; until then no instruction has retired.
        Clock = instructionTime ? GuestClock.Instructions(() => _cpu?.InstructionsRetired ?? 0) : GuestClock.Host();
        Chipset = new PcChipset(apic);
        Devices = com1 is null ? Chipset.Devices : [.. Chipset.Devices, com1.Uart];
        foreach (IDevice d in Devices)
        {
            d.Attach(this);
            router.AddLocal(d);
            if (d is ITimedDevice t) _timed.Add(t);
            // MMIO pages leave the RAM fast path and reach the exit handler.
            foreach (BusRange r in d.Ranges)
                if (r.Space == AddressSpace.Mmio) memory.MapMmio((uint)r.Start, (uint)r.Length);
        }
    }

    public GuestClock Clock { get; }
    public PcChipset Chipset { get; }

    /// <summary>Every device the monitor hosts: the chipset's, then COM1 when it is placed here.</summary>
    public IReadOnlyList<IDevice> Devices { get; }

    /// <summary>COM1 when it is placed in the monitor, else null.</summary>
    public MonitorSerialPort? Com1 => _com1;
    public DualPic8259 Pic => Chipset.Pic;
    public Pit8254 Pit => Chipset.Pit;
    public LocalApic? LocalApic => Chipset.LocalApic;
    public IoApic? IoApic => Chipset.IoApic;

    /// <summary>The CPU's INTR pin: an interrupt is waiting (for the halted VCPU's wait).</summary>
    public bool HasInterrupt => Chipset.HasInterrupt;

    /// <summary>Connects the CPU: its INTR input, CPUID's APIC bit, the NMI line, and the TSC on the guest clock.</summary>
    public void Connect(Cpu.Cpu cpu)
    {
        if (_cpu is not null) throw new InvalidOperationException("the platform already has its CPU");
        _cpu = cpu;
        Chipset.Connect(cpu);
        cpu.TscClock = Clock;
        SetTscRate(cpu);
    }

    // Instruction time: the TSC advances a whole number of ticks per instruction (10 ns at 1 GHz),
    // so native code can read it inline.
    private void SetTscRate(Cpu.Cpu cpu)
    {
        long perInstruction = Clock.NanosecondsPerInstruction * cpu.TscHz;
        cpu.TscTicksPerInstruction = Clock.IsVirtual && perInstruction % NanosecondsPerSecond == 0 ? perInstruction / NanosecondsPerSecond : 0;
    }

    /// <summary>
    /// Before the guest's first instruction: guest time from instructions retired or from the host clock, as the
    /// machine a VM that waited for a restore is given had it (<see cref="GuestClock.SwitchMode"/>).
    /// </summary>
    public void UseClock(bool instructionTime)
    {
        if (Clock.IsVirtual == instructionTime) return;
        Clock.SwitchMode(instructionTime ? () => _cpu?.InstructionsRetired ?? 0 : null);
        if (_cpu is not null) SetTscRate(_cpu);
    }

    /// <summary>
    /// What a PC BIOS leaves behind for a kernel started without one: the chipset programmed as
    /// firmware would (<see cref="PcChipset.PrepareFirmwareState"/>), A20 on as from reset, and in
    /// memory an IVT of harmless IRETs, the BIOS data area and the MP table (<see cref="PcBiosState"/>).
    /// </summary>
    public void PrepareFirmwareState()
    {
        Chipset.PrepareFirmwareState();
        _memory.A20Enabled = true;
        PcBiosState.Prepare(_memory);
    }

    /// <summary>Raises the interrupts of every timer whose deadline has passed. Cheap when none has.</summary>
    public void AdvanceTimers()
    {
        // COM1 in the monitor: typed input into its receiver, its output out (both cheap when there is none).
        _com1?.Service();
        foreach (ITimedDevice t in _timed)
            if (t.NextDeadline is { } due && due <= TimeSpan.Zero) t.Advance();
    }

    /// <summary>Guest time until the earliest timer deadline; null when no timer is armed.</summary>
    public TimeSpan? NextDeadline
    {
        get
        {
            TimeSpan? next = null;
            foreach (ITimedDevice t in _timed)
                if (t.NextDeadline is { } d && (next is null || d < next)) next = d;
            return next;
        }
    }

    /// <summary>A slice budget that ends at the next timer deadline, so timer interrupts arrive on time (exactly, on instruction time).</summary>
    public long SliceBudget(long most) => NextDeadline is { } d ? Clock.InstructionsWithin(d, most) : most;

    // ---- IDeviceHost for the devices here, and the IRQ lines of the device model ----

    public TimeProvider Time => Clock;

    /// <summary>An ISA IRQ line: to the 8259 and to the I/O APIC pin the board routes it to (<see cref="PcInterruptRouting"/>).</summary>
    public void SetIrq(int line, bool high) => Chipset.SetIrq(line, high);

    public void ReadGuest(ulong address, Span<byte> into)
    {
        if (address + (ulong)into.Length > PcMemoryMap.AddressSpaceEnd) throw new ArgumentOutOfRangeException(nameof(address));
        _memory.Read((uint)address, into);
    }

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data)
    {
        if (address + (ulong)data.Length > PcMemoryMap.AddressSpaceEnd) throw new ArgumentOutOfRangeException(nameof(address));
        for (int i = 0; i < data.Length; i++) _memory.Write8((uint)address + (uint)i, data[i]);
    }
}
