using Virt.Cpu.Exits;
using Virt.Devices.Bus;
using Virt.Devices.Platform;
using Virt.Pc.Board;

namespace Virt.Pc.Wiring;

/// <summary>
/// The board devices on the interrupt path (<see cref="DeviceHome.Monitor"/>): the 8259 pair, the
/// 8254 PIT with port 0x61, and optionally a local APIC and an I/O APIC, built at the board's
/// addresses and wired to each other as the MP table describes them: ISA lines to the 8259 input
/// of the same number and to the I/O APIC pin <see cref="PcInterruptRouting.IoApicPin"/> names
/// (IRQ0 on pin 2), the 8259 on the local APIC's LINT0 as ExtINT, the I/O APIC's deliveries to the
/// local APIC and its EOIs back. The CPU's INTR pin (<see cref="IInterruptController"/>) is the
/// local APIC when there is one, else the 8259.
/// Whoever hosts the chipset (the monitor's platform, the in-process test machine) attaches the
/// devices, routes their ranges and runs their timers.
/// </summary>
public sealed partial class PcChipset : IInterruptController
{
    // What a PC BIOS programs before it boots anything (PrepareFirmwareState).
    private const byte Icw1EdgeCascadeWithIcw4 = 0x11;
    private const byte Icw4Mode8086 = 0x01;
    private const byte MasterVectorBase = 0x08, SlaveVectorBase = 0x70;
    private const byte SlaveOnCascadeInput = 1 << IsaIrq.Cascade;  // master ICW3: which input has a slave
    private const byte SlaveCascadeIdentity = IsaIrq.Cascade;      // slave ICW3: which master input it is on
    private const byte MaskAllButCascade = unchecked((byte)~(1 << IsaIrq.Cascade));
    private const byte MaskAll = 0xFF;
    private const byte PitChannel0Mode3LowHigh = 0x36; // channel 0, lobyte/hibyte, mode 3 (square wave), binary
    private const byte PitCountFullLow = 0x00, PitCountFullHigh = 0x00; // count 0 = 65536: 18.2 Hz

    /// <param name="apic">Adds the local APIC and the I/O APIC; otherwise a PIC-only PC.</param>
    public PcChipset(bool apic)
    {
        Pic = new DualPic8259();
        Pit = new Pit8254(IsaIrq.Timer);
        PortB = new SystemControlPortB(Pit);
        var devices = new List<IDevice> { Pic, Pit, PortB };
        if (apic)
        {
            LocalApic = new LocalApic(PcMemoryMap.LocalApicBase);
            IoApic = new IoApic(PcMemoryMap.IoApicBase, PcBoard.IoApicId);
            // LINT0 = ExtINT: the 8259 reaches the CPU through the local APIC.
            LocalApic.ExtIntPending = () => Pic.HasInterrupt;
            LocalApic.ExtIntAcknowledge = Pic.Acknowledge;
            LocalApic.EndOfInterrupt += IoApic.EndOfInterrupt;
            IoApic.Deliver = LocalApic.AcceptInterrupt;
            devices.Add(LocalApic);
            devices.Add(IoApic);
        }
        Devices = devices;
    }

    public DualPic8259 Pic { get; }
    public Pit8254 Pit { get; }
    public SystemControlPortB PortB { get; }
    public LocalApic? LocalApic { get; }
    public IoApic? IoApic { get; }

    /// <summary>The chipset's devices in board order (<see cref="PcBoard.HostedBy"/> Monitor, the APICs only when present).</summary>
    public IReadOnlyList<IDevice> Devices { get; }

    /// <summary>Connects the CPU: its INTR input, CPUID's APIC bit and the local APIC's NMI (LINT1).</summary>
    public void Connect(Cpu.Cpu cpu)
    {
        cpu.InterruptController = this;
        cpu.HasApic = LocalApic is not null;
        if (LocalApic is not null) LocalApic.NmiRequested += cpu.RaiseNmi;
    }

    /// <summary>An ISA line: to the 8259 input of its number and to the I/O APIC pin the board routes it to.</summary>
    public void SetIrq(int line, bool high)
    {
        Pic.SetIrq(line, high);
        IoApic?.SetPin(PcInterruptRouting.IoApicPin(line), high);
    }

    /// <summary>
    /// The chipset as a PC BIOS leaves it for a kernel started without one: the 8259s initialised
    /// with vector bases 0x08 and 0x70 (all lines masked but the cascade, so nothing fires before
    /// the kernel sets up its own handlers), PIT channel 0 running in mode 3 at 18.2 Hz, the local
    /// APIC in virtual wire mode (LINT0 ExtINT, LINT1 NMI). Memory is <see cref="Boot.PcBiosState"/>'s.
    /// </summary>
    public void PrepareFirmwareState()
    {
        InitialisePic(PcIoPorts.MasterPic, MasterVectorBase, SlaveOnCascadeInput, MaskAllButCascade);
        InitialisePic(PcIoPorts.SlavePic, SlaveVectorBase, SlaveCascadeIdentity, MaskAll);
        Pit.PortWrite(Pit8254.ControlPort, 1, PitChannel0Mode3LowHigh);
        Pit.PortWrite(Pit8254.Channel0Port, 1, PitCountFullLow);
        Pit.PortWrite(Pit8254.Channel0Port, 1, PitCountFullHigh);
        LocalApic?.ConfigureVirtualWire();
    }

    private void InitialisePic(ushort command, byte vectorBase, byte icw3, byte mask)
    {
        ushort data = (ushort)(command + 1);
        Pic.PortWrite(command, 1, Icw1EdgeCascadeWithIcw4);
        Pic.PortWrite(data, 1, vectorBase);  // ICW2
        Pic.PortWrite(data, 1, icw3);
        Pic.PortWrite(data, 1, Icw4Mode8086);
        Pic.PortWrite(data, 1, mask);        // OCW1
    }

    // ---- IInterruptController: the CPU's INTR pin ----

    public bool HasInterrupt
    {
        get
        {
            SyncPvEoiFromGuest();
            return LocalApic?.HasInterrupt ?? Pic.HasInterrupt;
        }
    }

    public int AcknowledgeInterrupt()
    {
        SyncPvEoiFromGuest();
        int vector = LocalApic?.Acknowledge() ?? Pic.Acknowledge();
        OfferPvEoi(vector);
        return vector;
    }
}
