using Virt.Cpu.Memory;
using Virt.DeviceModel.Hosting;
using Virt.Devices.Bus;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Vm;
using Virt.Pc.Board;
using Virt.Shared.Control;
using Virt.Shared.Routing;

namespace Virt.Integration.Tests.Board;

/// <summary>
/// The monitor's platform and virt-dm's device set are built from one board definition
/// (platform/Virt.Pc): together they claim exactly the board's ports and MMIO ranges, each claims
/// its own half, nothing is claimed twice, and device-model IRQ lines reach the pins the board routes.
/// </summary>
public class BoardAgreementTests
{
    private const long RamBytes = 32 << 20;
    private const ClaimFlags EveryPolicy = ClaimFlags.BatchedWrites | ClaimFlags.CachedReads | ClaimFlags.PlatformEvents;

    [Fact]
    public void The_monitor_and_virt_dm_together_claim_exactly_the_board_and_nothing_twice()
    {
        using var ram = new GuestRam(RamBytes);
        using var memory = new PhysicalMemory(ram);
        var router = new ExitRouter(new ExitStatistics()) { RamSize = RamBytes };
        _ = new PcPlatform(memory, router, apic: true, instructionTime: true);
        var bus = new DeviceBus();
        using var devices = PcDevices.Create(bus, new NoGuest(), RamBytes, "none");

        var monitor = router.Claims.Select(c => (c.Device, c.Range)).ToList();
        var deviceModel = bus.Claims(EveryPolicy).Select(c => (c.Device, c.Range)).ToList();

        Assert.Equal(Addresses(PcBoard.HostedBy(DeviceHome.Monitor).SelectMany(d => d.Ranges)), Addresses(monitor.Select(c => c.Range)));
        Assert.Equal(Addresses(PcBoard.HostedBy(DeviceHome.DeviceModel).SelectMany(d => d.Ranges)), Addresses(deviceModel.Select(c => c.Range)));
        var all = monitor.Concat(deviceModel).ToList();
        for (int i = 0; i < all.Count; i++)
            for (int j = i + 1; j < all.Count; j++)
                Assert.False(all[i].Range.Overlaps(all[j].Range), $"{all[i].Device} {all[i].Range} and {all[j].Device} {all[j].Range}");
        Assert.Equal(PcBoard.HostedBy(DeviceHome.Monitor).Select(d => d.Name), monitor.Select(c => c.Device).Distinct());
    }

    [Fact]
    public void Two_device_models_splitting_the_PC_claim_disjoint_halves_of_the_board()
    {
        var first = new HashSet<string> { "com1", "debugcon" };
        var second = PcDevices.DeviceNames.Except(first).ToHashSet();
        var busA = new DeviceBus();
        var busB = new DeviceBus();
        using var a = PcDevices.Create(busA, new NoGuest(), RamBytes, "none", first);
        using var b = PcDevices.Create(busB, new NoGuest(), RamBytes, "none", second);

        var claimedA = Addresses(busA.Claims(EveryPolicy).Select(c => c.Range));
        var claimedB = Addresses(busB.Claims(EveryPolicy).Select(c => c.Range));
        Assert.Empty(claimedA.Intersect(claimedB));
        Assert.Equal(Addresses(first.Select(PcBoard.Named).SelectMany(d => d.Ranges)), claimedA);
        Assert.Equal(Addresses(PcBoard.HostedBy(DeviceHome.DeviceModel).SelectMany(d => d.Ranges)), claimedA.Union(claimedB).Order());
    }

    [Fact]
    public void Device_model_lines_reach_the_IO_APIC_pin_the_board_routes_them_to()
    {
        using var ram = new GuestRam(RamBytes);
        using var memory = new PhysicalMemory(ram);
        var platform = new PcPlatform(memory, new ExitRouter(new ExitStatistics()) { RamSize = RamBytes }, apic: true, instructionTime: true);
        var raised = new List<int>();
        platform.IoApic!.Deliver = (vector, _) => raised.Add(vector);
        const uint IoRegSel = 0x00, IoWin = 0x10, RedirectionTable = 0x10, VectorBase = 0x40;
        for (int pin = 0; pin < IsaIrq.Count; pin++)
        {
            platform.IoApic.MmioWrite(PcMemoryMap.IoApicBase + IoRegSel, 4, RedirectionTable + 2 * (uint)pin);
            platform.IoApic.MmioWrite(PcMemoryMap.IoApicBase + IoWin, 4, VectorBase + (uint)pin);
        }
        foreach (int line in PcBoard.Devices.SelectMany(d => d.IrqLines))
        {
            raised.Clear();
            platform.SetIrq(line, true);
            platform.SetIrq(line, false);
            Assert.Equal([(int)VectorBase + PcInterruptRouting.IoApicPin(line)], raised);
        }
    }

    /// <summary>Every address (port or MMIO byte) in the ranges, sorted, so splits by policy do not matter.</summary>
    private static List<(AddressSpace, ulong)> Addresses(IEnumerable<BusRange> ranges)
    {
        var set = new SortedSet<(AddressSpace, ulong)>();
        foreach (BusRange r in ranges)
            for (ulong a = r.Start; a < r.End; a++)
                Assert.True(set.Add((r.Space, a)), $"{r.Space} 0x{a:X} claimed twice");
        return set.ToList();
    }

    /// <summary>A host for building devices that are never run.</summary>
    private sealed class NoGuest : IDeviceHost
    {
        public TimeProvider Time => TimeProvider.System;
        public void SetIrq(int line, bool high) { }
        public void ReadGuest(ulong address, Span<byte> into) => throw new InvalidOperationException();
        public void WriteGuest(ulong address, ReadOnlySpan<byte> data) => throw new InvalidOperationException();
    }
}
