using System.Buffers.Binary;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Assist;
using Virt.Devices.Bus;
using Virt.Devices.Rtc;
using Virt.Devices.Serial;
using Virt.Integration.Tests.Support;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.Integration.Tests.Io;

/// <summary>The device model's pieces on their own: claims split by policy, the guest page walker.</summary>
public class DeviceModelUnitTests
{
    [Fact]
    public void Claims_are_split_where_the_policy_changes_and_masked_by_the_features()
    {
        var bus = new DeviceBus();
        bus.Add(new Uart16550());
        bus.Add(new Mc146818Rtc(16 << 20));
        var all = bus.Claims(ClaimFlags.All).Select(c => (c.Range, c.Flags)).ToList();
        Assert.Equal(
        [
            (BusRange.Ports(0x3F8, 1), ClaimFlags.BatchedWrites),
            (BusRange.Ports(0x3F9, 4), ClaimFlags.None),
            (BusRange.Ports(0x3FD, 1), ClaimFlags.CachedReads),
            (BusRange.Ports(0x3FE, 1), ClaimFlags.None),
            (BusRange.Ports(0x3FF, 1), ClaimFlags.BatchedWrites | ClaimFlags.CachedReads),
            (BusRange.Ports(0x70, 1), ClaimFlags.BatchedWrites),
            (BusRange.Ports(0x71, 1), ClaimFlags.CachedReads),
        ], all);
        // Without the features (--io naive) the same devices make one claim per range, all synchronous.
        Assert.Equal([(BusRange.Ports(0x3F8, 8), ClaimFlags.None), (BusRange.Ports(0x70, 2), ClaimFlags.None)],
            bus.Claims(ClaimFlags.None).Select(c => (c.Range, c.Flags)).ToList());
    }

    [Fact]
    public void The_page_walker_follows_4k_and_4m_pages_and_refuses_what_does_not_map()
    {
        string path = Path.Combine(TempDir.Create("walker"), "ram");
        using var ram = SharedRegion.Create(path, 16 << 20);
        void Put(uint at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(ram.AsSpan(at, 4), value);
        const uint pd = 0x10_0000, pt = 0x10_1000;
        Put(pd + 0 * 4, pt | 3);                        // 0-4 MiB: page table
        Put(pt + 5 * 4, 0x0077_7000 | 3);               // linear 0x5000 -> 0x777000
        Put(pt + 6 * 4, 0x0088_8000);                   // not present
        Put(pd + 1 * 4, 0x0080_0000 | 0x80 | 3);        // 4-8 MiB: a 4 MiB page at 8 MiB
        Put(pd + 2 * 4, 0x4000_0000 | 0x80 | 3);        // 8-12 MiB: a 4 MiB page beyond RAM
        var walker = new GuestPageWalker(ram);
        var crs = new CrArea { Cr0 = 0x8000_0011, Cr3 = pd, Cr4 = 0x10 };
        Assert.Equal(0x77_7123UL, walker.Translate(crs, 0x5123));
        Assert.Null(walker.Translate(crs, 0x6000));
        Assert.Equal(0x80_0000UL + 0x12_3456, walker.Translate(crs, 0x40_0000 + 0x12_3456));
        Assert.Null(walker.Translate(crs, 0x80_0000));
        Assert.Null(walker.Translate(crs, 0xC0_0000));  // directory entry not present
        // Without CR4.PSE the 4 MiB bit is ignored: the entry is a page table address.
        Assert.NotEqual(0x80_0000UL + 0x12_3456, walker.Translate(crs with { Cr4 = 0 }, 0x40_0000 + 0x12_3456));
        // Paging off: linear is physical, inside RAM only.
        Assert.Equal(0x12_3456UL, walker.Translate(new CrArea { Cr0 = 0x11 }, 0x12_3456));
        Assert.Null(walker.Translate(new CrArea { Cr0 = 0x11 }, 0x0100_0000));
    }
}
