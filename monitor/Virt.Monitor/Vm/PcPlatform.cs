using Virt.Cpu.Boot;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.Platform;
using Virt.Devices.Timing;
using Virt.Monitor.Routing;

namespace Virt.Monitor.Vm;

/// <summary>
/// The PC platform devices the monitor hosts, as KVM keeps them in the kernel: the 8259 pair, the
/// 8254 PIT with port 0x61 (channel 2 gate and output, which Linux's TSC calibration reads), and
/// with <c>apic</c> a local APIC (xAPIC at 0xFEE00000, with its timer) and an I/O APIC at
/// 0xFEC00000, wired as the MP table describes them (ISA IRQ0 on pin 2, the others identity; the
/// 8259 on LINT0 as ExtINT). All run on the VCPU thread, on one <see cref="GuestClock"/>.
/// Also leaves the device state a PC BIOS would (<see cref="PrepareFirmwareState"/>).
/// </summary>
public sealed class PcPlatform : IDeviceHost, IInterruptController
{
    private readonly PhysicalMemory _memory;
    private readonly List<ITimedDevice> _timed = new();

    private Cpu.Cpu? _cpu;

    /// <param name="apic">Adds the local APIC and I/O APIC (and CPUID's APIC bit); otherwise a PIC-only PC.</param>
    /// <param name="instructionTime">Guest time from instructions retired (<see cref="GuestClock"/>); otherwise host time.</param>
    public PcPlatform(PhysicalMemory memory, ExitRouter router, bool apic, bool instructionTime)
    {
        _memory = memory;
        // The CPU is connected after the devices claim their ports; until then no instruction has retired.
        Clock = instructionTime ? GuestClock.Instructions(() => _cpu?.InstructionsRetired ?? 0) : GuestClock.Host();
        Pic = new DualPic8259();
        Pit = new Pit8254();
        var devices = new List<IDevice> { Pic, Pit, new SystemControlPortB(Pit) };
        if (apic)
        {
            LocalApic = new LocalApic();
            IoApic = new IoApic();
            LocalApic.ExtIntPending = () => Pic.HasInterrupt;
            LocalApic.ExtIntAcknowledge = Pic.Acknowledge;
            LocalApic.EndOfInterrupt += IoApic.EndOfInterrupt;
            IoApic.Deliver = LocalApic.AcceptInterrupt;
            devices.Add(LocalApic);
            devices.Add(IoApic);
        }
        foreach (IDevice d in devices)
        {
            d.Attach(this);
            router.AddLocal(d);
            if (d is ITimedDevice t) _timed.Add(t);
            // MMIO pages leave the RAM fast path and reach the exit handler.
            foreach (BusRange r in d.Ranges)
                if (r.Space == BusSpace.Mmio) memory.MapMmio((uint)r.Start, (uint)r.Length);
        }
    }

    public GuestClock Clock { get; }
    public DualPic8259 Pic { get; }
    public Pit8254 Pit { get; }
    public LocalApic? LocalApic { get; }
    public IoApic? IoApic { get; }

    /// <summary>Connects the CPU: its INTR input, CPUID's APIC bit, the NMI line, and the TSC on the guest clock.</summary>
    public void Connect(Cpu.Cpu cpu)
    {
        if (_cpu is not null) throw new InvalidOperationException("the platform already has its CPU");
        _cpu = cpu;
        cpu.InterruptController = this;
        cpu.HasApic = LocalApic is not null;
        if (LocalApic is not null) LocalApic.NmiRequested += cpu.RaiseNmi;
        cpu.TscClock = Clock;
        // Instruction time: the TSC advances a whole number of ticks per instruction (10 ns at 1 GHz),
        // so native code can read it inline.
        long perInstruction = Clock.NanosecondsPerInstruction * cpu.TscHz;
        cpu.TscTicksPerInstruction = Clock.IsVirtual && perInstruction % 1_000_000_000 == 0 ? perInstruction / 1_000_000_000 : 0;
    }

    /// <summary>
    /// What a PC BIOS leaves behind for a kernel started without one: the 8259s initialised with
    /// vector bases 0x08 and 0x70 (all lines masked but the cascade, so nothing fires before the
    /// kernel sets up its own handlers), PIT channel 0 running in mode 3 at 18.2 Hz, the local APIC
    /// in virtual wire mode; and in memory an IVT of harmless IRETs, the BIOS data area (COM1, base
    /// memory size) and the MP table (<see cref="PcBiosState"/>). A20 is on from reset.
    /// </summary>
    public void PrepareFirmwareState()
    {
        InitialisePic(DualPic8259.MasterCommand, vectorBase: 0x08, icw3: 0x04, mask: 0xFB);
        InitialisePic(DualPic8259.SlaveCommand, vectorBase: 0x70, icw3: 0x02, mask: 0xFF);
        Pit.PortWrite(Pit8254.ControlPort, 1, 0x36);   // channel 0, lobyte/hibyte, mode 3, binary
        Pit.PortWrite(Pit8254.Channel0Port, 1, 0x00);  // count 0 = 65536: 18.2 Hz
        Pit.PortWrite(Pit8254.Channel0Port, 1, 0x00);
        LocalApic?.ConfigureVirtualWire();
        _memory.A20Enabled = true;
        PcBiosState.Prepare(_memory);
    }

    private void InitialisePic(ushort command, byte vectorBase, byte icw3, byte mask)
    {
        ushort data = (ushort)(command + 1);
        Pic.PortWrite(command, 1, 0x11);  // ICW1: edge, cascade, ICW4 follows
        Pic.PortWrite(data, 1, vectorBase);
        Pic.PortWrite(data, 1, icw3);
        Pic.PortWrite(data, 1, 0x01);     // ICW4: 8086 mode
        Pic.PortWrite(data, 1, mask);     // OCW1
    }

    /// <summary>Raises the interrupts of every timer whose deadline has passed. Cheap when none has.</summary>
    public void AdvanceTimers()
    {
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

    // ---- IInterruptController: the CPU's INTR pin ----

    public bool HasInterrupt => LocalApic?.HasInterrupt ?? Pic.HasInterrupt;

    public int AcknowledgeInterrupt() => LocalApic?.Acknowledge() ?? Pic.Acknowledge();

    // ---- IDeviceHost for the devices here, and the IRQ lines of the device model ----

    public TimeProvider Time => Clock;

    /// <summary>An ISA IRQ line: to the 8259 and to the I/O APIC pin the MP table names for it.</summary>
    public void SetIrq(int line, bool high)
    {
        Pic.SetIrq(line, high);
        IoApic?.SetPin(line == 0 ? 2 : line, high);
    }

    public void ReadGuest(ulong address, Span<byte> into)
    {
        if (address + (ulong)into.Length > 0x1_0000_0000UL) throw new ArgumentOutOfRangeException(nameof(address));
        _memory.Read((uint)address, into);
    }

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data)
    {
        if (address + (ulong)data.Length > 0x1_0000_0000UL) throw new ArgumentOutOfRangeException(nameof(address));
        for (int i = 0; i < data.Length; i++) _memory.Write8((uint)address + (uint)i, data[i]);
    }
}
