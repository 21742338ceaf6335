using Virt.Shared.Routing;

namespace Virt.Devices.Tests.Routing;

/// <summary>The one address map for ports and MMIO ranges: claims with overlap checks, lookups, releases.</summary>
public class AddressMapTests
{
    [Fact]
    public void Lookups_find_the_range_that_holds_an_address_and_nothing_between_ranges()
    {
        var map = new AddressMap<string>();
        map.Claim(0x3F8, 8, "com1");
        map.Claim(0x70, 2, "rtc");
        map.Claim(0xE9, 1, "debugcon");
        Assert.Equal(["rtc", "debugcon", "com1"], map.Ranges.Select(r => r.Owner));
        Assert.Equal("rtc", map.OwnerAt(0x70));
        Assert.Equal("rtc", map.OwnerAt(0x71));
        Assert.Null(map.OwnerAt(0x72));
        Assert.Null(map.OwnerAt(0x6F));
        Assert.Equal("com1", map.OwnerAt(0x3FF));
        Assert.Null(map.OwnerAt(0x400));
        Assert.Null(map.OwnerAt(0));
        Assert.True(map.TryFind(0x3FC, out AddressRange<string> r));
        Assert.Equal((0x3F8UL, 0x400UL), (r.Start, r.End));
    }

    [Theory]
    [InlineData(0x3F0, 0x9)]   // ends inside
    [InlineData(0x3FF, 0x10)]  // starts inside
    [InlineData(0x3F9, 2)]     // within
    [InlineData(0x300, 0x200)] // covers
    [InlineData(0x3F8, 8)]     // the same
    public void A_claim_that_overlaps_is_refused_and_names_the_range_it_met(ulong start, ulong length)
    {
        var map = new AddressMap<string>();
        map.Claim(0x3F8, 8, "com1");
        Assert.False(map.TryClaim(start, length, "other", out AddressRange<string>? conflict));
        Assert.Equal("com1", conflict?.Owner);
        Assert.Single(map.Ranges);
        var e = Assert.Throws<InvalidOperationException>(() => map.Claim(start, length, "other"));
        Assert.Contains("com1", e.Message);
    }

    [Fact]
    public void Adjacent_ranges_do_not_overlap_and_empty_ranges_are_refused()
    {
        var map = new AddressMap<string>();
        map.Claim(0x3F8, 8, "com1");
        Assert.True(map.TryClaim(0x3F0, 8, "below", out _));
        Assert.True(map.TryClaim(0x400, 1, "above", out _));
        Assert.False(map.TryClaim(0x500, 0, "empty", out AddressRange<string>? conflict));
        Assert.Null(conflict);
        Assert.Equal(3, map.Count);
        // MMIO: a range at the top of the 32-bit space, and one ending exactly where another starts.
        var mmio = new AddressMap<string>();
        mmio.Claim(0xFEC0_0000, 0x1000, "ioapic");
        mmio.Claim(0xFEBF_F000, 0x1000, "below");
        mmio.Claim(0xFFFF_F000, 0x1000, "top");
        Assert.Equal("top", mmio.OwnerAt(0xFFFF_FFFF));
        Assert.Equal("ioapic", mmio.OwnerAt(0xFEC0_0FFF));
        Assert.Equal("below", mmio.OwnerAt(0xFEBF_FFFF));
    }

    [Fact]
    public void A_released_range_can_be_claimed_again()
    {
        var map = new AddressMap<string>();
        map.Claim(0x70, 2, "rtc");
        map.Claim(0x3F8, 8, "com1");
        map.Claim(0x2F8, 8, "com2");
        Assert.False(map.Release(0x71)); // not the start of a range
        Assert.True(map.Release(0x70));
        Assert.False(map.Release(0x70));
        Assert.Null(map.OwnerAt(0x70));
        Assert.True(map.TryClaim(0x70, 2, "rtc2", out _));
        Assert.Equal("rtc2", map.OwnerAt(0x71));
        Assert.Equal(2, map.ReleaseAll("com1") + map.ReleaseAll("com2"));
        Assert.Equal(["rtc2"], map.Ranges.Select(r => r.Owner));
    }

    [Fact]
    public void Many_ranges_are_found_by_binary_search_in_any_claim_order()
    {
        var map = new AddressMap<int>();
        var order = Enumerable.Range(0, 200).OrderBy(i => (i * 7919) % 200).ToList();
        foreach (int i in order) map.Claim((ulong)i * 16, 8, i);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(i, map.OwnerAt((ulong)i * 16 + 7));
            Assert.False(map.TryFind((ulong)i * 16 + 8, out _));
        }
    }

    [Theory]
    [InlineData(1, 0xFFUL)]
    [InlineData(2, 0xFFFFUL)]
    [InlineData(4, 0xFFFF_FFFFUL)]
    [InlineData(8, ulong.MaxValue)]
    public void All_ones_for_each_access_size(int size, ulong expected)
    {
        Assert.Equal(expected, IoSize.AllOnes(size));
        Assert.Equal((uint)Math.Min(expected, uint.MaxValue), IoSize.AllOnes32(size));
    }
}
