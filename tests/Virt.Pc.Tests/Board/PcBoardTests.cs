using Virt.Devices.Bus;
using Virt.Pc.Board;
using Virt.Shared.Routing;

namespace Virt.Pc.Tests.Board;

public class PcBoardTests
{
    [Fact]
    public void No_two_devices_share_a_port_or_an_MMIO_range()
    {
        var ranges = PcBoard.Devices.SelectMany(d => d.Ranges.Select(r => (Device: d.Name, Range: r))).ToList();
        for (int i = 0; i < ranges.Count; i++)
            for (int j = i + 1; j < ranges.Count; j++)
                Assert.False(ranges[i].Range.Overlaps(ranges[j].Range), $"{ranges[i].Device} {ranges[i].Range} overlaps {ranges[j].Device} {ranges[j].Range}");
    }

    [Fact]
    public void No_two_devices_drive_the_same_line_and_none_drives_the_cascade()
    {
        var lines = PcBoard.Devices.SelectMany(d => d.IrqLines).ToList();
        Assert.Equal(lines.Count, lines.Distinct().Count());
        Assert.All(lines, l => Assert.InRange(l, 0, IsaIrq.Count - 1));
        Assert.DoesNotContain(IsaIrq.Cascade, lines);
    }

    [Fact]
    public void Names_are_unique_and_the_device_model_names_are_what_virt_dm_takes()
    {
        Assert.Equal(PcBoard.Devices.Count, PcBoard.Devices.Select(d => d.Name).Distinct().Count());
        // The --devices names (docs/device-models.md), in the order virt-dm adds the devices.
        Assert.Equal(["com1", "debugcon", "exit", "rtc", "post", "i8042", "pci"], PcBoard.DeviceModelNames);
        Assert.Equal(["pic", "pit", "portb", "lapic", "ioapic"], PcBoard.HostedBy(DeviceHome.Monitor).Select(d => d.Name));
    }

    [Fact]
    public void The_interrupt_path_is_in_the_monitor()
    {
        foreach (BoardDevice d in new[] { PcBoard.Pic, PcBoard.Pit, PcBoard.LocalApic, PcBoard.IoApic })
            Assert.Equal(DeviceHome.Monitor, d.Home);
    }

    [Fact]
    public void The_APIC_windows_are_MMIO_above_RAM_and_everything_else_is_ports()
    {
        Assert.Equal([BusRange.Mmio(PcMemoryMap.LocalApicBase, PcMemoryMap.ApicWindowSize)], PcBoard.LocalApic.Ranges);
        Assert.Equal([BusRange.Mmio(PcMemoryMap.IoApicBase, PcMemoryMap.ApicWindowSize)], PcBoard.IoApic.Ranges);
        Assert.All(PcBoard.Devices.Where(d => d != PcBoard.LocalApic && d != PcBoard.IoApic).SelectMany(d => d.Ranges),
            r => Assert.Equal(AddressSpace.Port, r.Space));
    }

    [Fact]
    public void Named_finds_a_device_and_refuses_an_unknown_name()
    {
        Assert.Same(PcBoard.Com1, PcBoard.Named("com1"));
        Assert.Contains("com1", Assert.Throws<KeyNotFoundException>(() => PcBoard.Named("com9")).Message);
    }

    [Fact]
    public void The_memory_map_is_ordered()
    {
        Assert.True(PcMemoryMap.BiosDataArea < PcMemoryMap.ExtendedBiosDataArea);
        Assert.True(PcMemoryMap.ExtendedBiosDataArea < PcMemoryMap.BaseMemoryEnd);
        Assert.True(PcMemoryMap.BaseMemoryEnd < PcMemoryMap.BiosSegment);
        Assert.True(PcMemoryMap.BiosSegment < PcMemoryMap.HighMemoryStart);
        Assert.True(PcMemoryMap.IoApicBase + PcMemoryMap.ApicWindowSize <= PcMemoryMap.LocalApicBase);
        Assert.Equal(640, PcMemoryMap.BaseMemoryKiB);
    }
}
