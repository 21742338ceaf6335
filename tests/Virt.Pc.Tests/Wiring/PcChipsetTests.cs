using Virt.Pc.Board;
using Virt.Pc.Wiring;

namespace Virt.Pc.Tests.Wiring;

public class PcChipsetTests
{
    private const ulong IoRegSel = 0x00, IoWin = 0x10;
    private const uint RedirectionTable = 0x10;
    private const byte VectorBase = 0x30;

    [Fact]
    public void The_chipset_claims_exactly_the_monitor_devices_of_the_board()
    {
        var chipset = new PcChipset(apic: true);
        Assert.Equal(Claims.Of(PcBoard.HostedBy(DeviceHome.Monitor)), Claims.Of(chipset.Devices));
        Assert.Equal(PcBoard.HostedBy(DeviceHome.Monitor).Select(d => d.Name), chipset.Devices.Select(d => d.Name));
    }

    [Fact]
    public void Without_APICs_the_chipset_is_the_PICs_and_the_PIT()
    {
        var chipset = new PcChipset(apic: false);
        Assert.Null(chipset.LocalApic);
        Assert.Null(chipset.IoApic);
        Assert.Equal(Claims.Of([PcBoard.Pic, PcBoard.Pit, PcBoard.SystemControlPortB]), Claims.Of(chipset.Devices));
    }

    [Fact]
    public void Each_ISA_line_reaches_the_IO_APIC_pin_the_board_routes_it_to()
    {
        var chipset = new PcChipset(apic: true);
        var delivered = new List<int>();
        chipset.IoApic!.Deliver = (vector, _) => delivered.Add(vector);
        // Every pin unmasked, edge triggered, with a vector that names the pin.
        for (int pin = 0; pin < IsaIrq.Count; pin++)
        {
            chipset.IoApic.MmioWrite(PcMemoryMap.IoApicBase + IoRegSel, 4, RedirectionTable + 2 * (uint)pin);
            chipset.IoApic.MmioWrite(PcMemoryMap.IoApicBase + IoWin, 4, VectorBase + (uint)pin);
        }
        foreach (var (irq, pin) in PcInterruptRouting.IoApicRoutes())
        {
            delivered.Clear();
            chipset.SetIrq(irq, true);
            chipset.SetIrq(irq, false);
            Assert.Equal([VectorBase + pin], delivered);
        }
    }

    [Fact]
    public void Firmware_state_programs_the_PIC_vector_bases_and_masks_all_but_the_cascade()
    {
        var chipset = Hosted(new PcChipset(apic: false));
        chipset.PrepareFirmwareState();
        chipset.SetIrq(IsaIrq.Timer, true);
        Assert.False(chipset.HasInterrupt); // masked, as a BIOS leaves it
        chipset.Pic.PortWrite(PcIoPorts.MasterPic + 1, 1, 0xFE); // OCW1: unmask IRQ0
        Assert.True(chipset.HasInterrupt);
        Assert.Equal(0x08, chipset.AcknowledgeInterrupt());
    }

    [Fact]
    public void With_APICs_the_PIC_reaches_the_CPU_through_the_local_APIC_in_virtual_wire_mode()
    {
        var chipset = Hosted(new PcChipset(apic: true));
        chipset.PrepareFirmwareState();
        chipset.Pic.PortWrite(PcIoPorts.MasterPic + 1, 1, 0xFE); // unmask IRQ0
        chipset.SetIrq(IsaIrq.Timer, true);
        Assert.True(chipset.HasInterrupt);
        Assert.Equal(0x08, chipset.AcknowledgeInterrupt());
    }

    /// <summary>Attaches the chipset's devices to a host whose lines go back into the chipset, as the monitor's platform does.</summary>
    private static PcChipset Hosted(PcChipset chipset)
    {
        var host = new RecordingHost(chipset.SetIrq);
        foreach (var d in chipset.Devices) d.Attach(host);
        return chipset;
    }
}
