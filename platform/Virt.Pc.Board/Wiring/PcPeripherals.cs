using Virt.Devices.Bus;
using Virt.Devices.Debug;
using Virt.Devices.Input;
using Virt.Devices.Pci;
using Virt.Devices.Rtc;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Pc.Board;

namespace Virt.Pc.Wiring;

/// <summary>
/// The board devices off the interrupt path (<see cref="DeviceHome.DeviceModel"/>), built at the
/// board's ports and lines: COM1, the debug console, the exit port, the RTC/CMOS, the POST port,
/// the i8042 and the PCI host bridge. What their events mean (an exit, a reset, an A20 change) and
/// where their console goes is the host's: virt-dm completes exits with platform events, the
/// in-process test machine acts at once.
/// </summary>
public sealed class PcPeripherals
{
    private readonly (BoardDevice Board, IDevice Device)[] _devices;

    /// <param name="console">Where COM1 and the debug console write.</param>
    /// <param name="ramBytes">The guest RAM below 4 GiB, which the CMOS reports to firmware.</param>
    public PcPeripherals(IByteSink console, ulong ramBytes)
    {
        Com1 = new Uart16550(PcIoPorts.Com1, IsaIrq.Com1, console, PcBoard.Com1.Name);
        DebugConsole = new DebugConsolePort(console, PcIoPorts.DebugConsole);
        DebugExit = new DebugExitPort(PcIoPorts.DebugExit);
        // The RTC keeps UTC: Linux reads the CMOS clock as UTC unless userspace says otherwise.
        Rtc = new Mc146818Rtc(ramBytes, utcOffset: TimeSpan.Zero, irq: IsaIrq.Rtc);
        PostCode = new PostCodePort(PcIoPorts.PostCode);
        I8042 = new I8042Controller();
        Pci = new PciHostBridge();
        _devices =
        [
            (PcBoard.Com1, Com1), (PcBoard.DebugConsole, DebugConsole), (PcBoard.DebugExit, DebugExit), (PcBoard.Rtc, Rtc),
            (PcBoard.PostCode, PostCode), (PcBoard.I8042, I8042), (PcBoard.Pci, Pci),
        ];
    }

    public Uart16550 Com1 { get; }
    public DebugConsolePort DebugConsole { get; }
    public DebugExitPort DebugExit { get; }
    public Mc146818Rtc Rtc { get; }
    public PostCodePort PostCode { get; }
    public I8042Controller I8042 { get; }
    public PciHostBridge Pci { get; }

    /// <summary>Every peripheral, in board order (<see cref="PcBoard.DeviceModelNames"/>).</summary>
    public IReadOnlyList<IDevice> Devices => _devices.Select(d => d.Device).ToArray();

    /// <summary>
    /// The peripherals whose board names are in <paramref name="names"/> (all of them when null), in
    /// board order: a device model may host a subset, so two can split the PC between them.
    /// </summary>
    /// <exception cref="ArgumentException">A name that is no peripheral of the board.</exception>
    public IReadOnlyList<IDevice> Only(IReadOnlySet<string>? names)
    {
        if (names is null) return Devices;
        foreach (string name in names)
            if (!PcBoard.DeviceModelNames.Contains(name))
                throw new ArgumentException($"unknown device '{name}' (known: {string.Join(',', PcBoard.DeviceModelNames)})", nameof(names));
        return _devices.Where(d => names.Contains(d.Board.Name)).Select(d => d.Device).ToArray();
    }
}
