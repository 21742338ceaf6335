using Virt.Devices.Bus;

namespace Virt.Pc.Board;

/// <summary>
/// The PC this project emulates, described once: which devices it has, the ports and MMIO ranges
/// each answers, the ISA lines each drives, and which process hosts it. The monitor's platform
/// (<c>Vm/PcPlatform</c>), virt-dm's device set (<c>Hosting/PcDevices</c>) and the in-process test
/// machine build their devices from <c>Virt.Pc.Wiring.PcChipset</c> (platform/Virt.Pc) and <see cref="Wiring.PcPeripherals"/>,
/// which construct them at these addresses; tests check that what they claim is exactly this.
/// The interrupt wiring is <see cref="PcInterruptRouting"/>; the memory layout <see cref="PcMemoryMap"/>.
/// </summary>
public static class PcBoard
{
    /// <summary>The I/O APIC's ID, as the MP table gives it.</summary>
    public const byte IoApicId = 1;

    // ---- hosted by the monitor (the interrupt path) ----

    public static readonly BoardDevice Pic = new("pic", DeviceHome.Monitor,
        [Ports(PcIoPorts.MasterPic, PcIoPorts.PicPortCount), Ports(PcIoPorts.SlavePic, PcIoPorts.PicPortCount), Ports(PcIoPorts.PicElcr, PcIoPorts.PicElcrCount)], []);

    public static readonly BoardDevice Pit = new("pit", DeviceHome.Monitor, [Ports(PcIoPorts.Pit, PcIoPorts.PitPortCount)], [IsaIrq.Timer]);

    public static readonly BoardDevice SystemControlPortB = new("portb", DeviceHome.Monitor, [Ports(PcIoPorts.SystemControlB, 1)], []);

    public static readonly BoardDevice LocalApic = new("lapic", DeviceHome.Monitor, [BusRange.Mmio(PcMemoryMap.LocalApicBase, PcMemoryMap.ApicWindowSize)], []);

    public static readonly BoardDevice IoApic = new("ioapic", DeviceHome.Monitor, [BusRange.Mmio(PcMemoryMap.IoApicBase, PcMemoryMap.ApicWindowSize)], []);

    // ---- hosted by a device model (virt-dm), in the order virt-dm adds them ----

    public static readonly BoardDevice Com1 = new("com1", DeviceHome.DeviceModel, [Ports(PcIoPorts.Com1, PcIoPorts.UartPortCount)], [IsaIrq.Com1]);

    public static readonly BoardDevice DebugConsole = new("debugcon", DeviceHome.DeviceModel, [Ports(PcIoPorts.DebugConsole, 1)], []);

    public static readonly BoardDevice DebugExit = new("exit", DeviceHome.DeviceModel, [Ports(PcIoPorts.DebugExit, 1)], []);

    public static readonly BoardDevice Rtc = new("rtc", DeviceHome.DeviceModel, [Ports(PcIoPorts.Rtc, PcIoPorts.RtcPortCount)], [IsaIrq.Rtc]);

    public static readonly BoardDevice PostCode = new("post", DeviceHome.DeviceModel, [Ports(PcIoPorts.PostCode, 1)], []);

    public static readonly BoardDevice I8042 = new("i8042", DeviceHome.DeviceModel,
        [Ports(PcIoPorts.I8042Data, 1), Ports(PcIoPorts.I8042Status, 1)], [IsaIrq.Keyboard, IsaIrq.Mouse]);

    public static readonly BoardDevice Pci = new("pci", DeviceHome.DeviceModel, [Ports(PcIoPorts.PciConfig, PcIoPorts.PciConfigPortCount)], []);

    /// <summary>Every device of the board: the monitor's first, then the device model's.</summary>
    public static IReadOnlyList<BoardDevice> Devices { get; } =
        [Pic, Pit, SystemControlPortB, LocalApic, IoApic, Com1, DebugConsole, DebugExit, Rtc, PostCode, I8042, Pci];

    /// <summary>The devices one process hosts, in board order.</summary>
    public static IReadOnlyList<BoardDevice> HostedBy(DeviceHome home) => Devices.Where(d => d.Home == home).ToArray();

    /// <summary>The names virt-dm's --devices takes: the device-model devices, in the order they are added to its bus.</summary>
    public static IReadOnlyList<string> DeviceModelNames { get; } = HostedBy(DeviceHome.DeviceModel).Select(d => d.Name).ToArray();

    /// <summary>The board device called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The PC has no device of that name.</exception>
    public static BoardDevice Named(string name) =>
        Devices.FirstOrDefault(d => d.Name == name) ?? throw new KeyNotFoundException($"the PC has no device '{name}' (it has {string.Join(", ", Devices.Select(d => d.Name))})");

    private static BusRange Ports(ushort start, ushort count) => BusRange.Ports(start, count);
}
