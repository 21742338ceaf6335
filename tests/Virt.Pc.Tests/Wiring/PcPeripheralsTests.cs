using Virt.Devices.Sinks;
using Virt.Pc.Board;
using Virt.Pc.Wiring;

namespace Virt.Pc.Tests.Wiring;

public class PcPeripheralsTests
{
    private const byte UartIerThri = 0x02, UartMcrOut2 = 0x08;
    private const byte I8042WriteCommandByte = 0x60, I8042WriteKeyboardOutput = 0xD2, I8042WriteAuxOutput = 0xD3;
    private const byte CommandByteKeyboardInterrupt = 0x01, CommandByteAuxInterrupt = 0x02;

    [Fact]
    public void The_peripherals_claim_exactly_the_device_model_devices_of_the_board()
    {
        var p = new PcPeripherals(NullByteSink.Instance, 64 << 20);
        Assert.Equal(Claims.Of(PcBoard.HostedBy(DeviceHome.DeviceModel)), Claims.Of(p.Devices));
    }

    [Fact]
    public void A_subset_keeps_board_order_and_an_unknown_name_is_refused()
    {
        var p = new PcPeripherals(NullByteSink.Instance, 64 << 20);
        Assert.Equal([p.Rtc, p.Pci], p.Only(new HashSet<string> { "pci", "rtc" }));
        Assert.Equal(p.Devices, p.Only(null));
        Assert.Throws<ArgumentException>(() => p.Only(new HashSet<string> { "pic" }));
    }

    [Fact]
    public void COM1_drives_the_board_line()
    {
        var p = new PcPeripherals(NullByteSink.Instance, 64 << 20);
        var host = new RecordingHost();
        p.Com1.Attach(host);
        p.Com1.PortWrite(PcIoPorts.Com1 + 4, 1, UartMcrOut2);  // MCR: OUT2 gates the IRQ onto the bus
        p.Com1.PortWrite(PcIoPorts.Com1 + 1, 1, UartIerThri);  // IER: the transmitter is empty at once
        Assert.Equal([(IsaIrq.Com1, true)], host.Lines.Where(l => l.High).Distinct());
        Assert.Equal([IsaIrq.Com1], PcBoard.Com1.IrqLines);
    }

    [Fact]
    public void The_i8042_drives_the_board_lines_for_its_two_ports()
    {
        var p = new PcPeripherals(NullByteSink.Instance, 64 << 20);
        var host = new RecordingHost();
        p.I8042.Attach(host);
        p.I8042.PortWrite(PcIoPorts.I8042Status, 1, I8042WriteCommandByte);
        p.I8042.PortWrite(PcIoPorts.I8042Data, 1, CommandByteKeyboardInterrupt | CommandByteAuxInterrupt);
        p.I8042.PortWrite(PcIoPorts.I8042Status, 1, I8042WriteKeyboardOutput);
        p.I8042.PortWrite(PcIoPorts.I8042Data, 1, 0xAA);
        p.I8042.PortRead(PcIoPorts.I8042Data, 1);
        p.I8042.PortWrite(PcIoPorts.I8042Status, 1, I8042WriteAuxOutput);
        p.I8042.PortWrite(PcIoPorts.I8042Data, 1, 0x55);
        Assert.Equal(PcBoard.I8042.IrqLines, host.Lines.Where(l => l.High).Select(l => l.Line).Distinct());
    }
}
