using Virt.Shared.Control;

namespace Virt.Integration.Tests.Observing;

/// <summary>The StatsSnapshot frame (protocol 1.4): what is written is read back, and a bad frame is a protocol error.</summary>
public class StatsSnapshotTests
{
    private static StatsSnapshot Sample(int addresses = 2) => new(1_500_000_000, 123_456, VcpuRunState.Running,
        [new("exits", 10), new("round_trips", 4)], [new("io-out", 7), new("io-in", 3)], [new("sync-access", 2)],
        [new(0, "monitor", AttachmentState.Active, 1, 2), new(1, "virt-dm", AttachmentState.Active, 3, 4)],
        [new("com1", 1, 3, 4)],
        Enumerable.Range(0, addresses).Select(i => new AddressExits(StatsSpace.Port, (ulong)(0x3F8 + i), "com1", 1, (ulong)i, 1)).ToList(),
        [new("com1", "tx_bytes", 4)]);

    private static byte[] Payload(ReadOnlyMemory<byte> frame) => frame[Protocol.HeaderSize..].ToArray();

    [Fact]
    public void A_snapshot_is_read_back_as_written()
    {
        StatsSnapshot s = Sample();
        StatsSnapshot r = StatsSnapshot.Read(Payload(s.ToFrame()));
        Assert.Equal(s.ElapsedNanos, r.ElapsedNanos);
        Assert.Equal(s.Instructions, r.Instructions);
        Assert.Equal(s.State, r.State);
        Assert.Equal(s.Totals, r.Totals);
        Assert.Equal(s.ExitsByReason, r.ExitsByReason);
        Assert.Equal(s.FlushesByReason, r.FlushesByReason);
        Assert.Equal(s.Models, r.Models);
        Assert.Equal(s.Devices, r.Devices);
        Assert.Equal(s.Addresses, r.Addresses);
        Assert.Equal(s.Counters, r.Counters);
        Assert.Equal(4UL, r.Total("round_trips"));
    }

    [Fact]
    public void A_snapshot_keeps_to_its_bounds_and_fits_one_frame()
    {
        var huge = Sample(1000) with
        {
            Counters = Enumerable.Range(0, 1000).Select(i => new CounterValue(new string('d', 100), $"c{i}" + new string('x', 100), 1)).ToList(),
        };
        ReadOnlyMemory<byte> frame = huge.ToFrame();
        Assert.True(frame.Length - Protocol.HeaderSize <= Protocol.MaxPayload, $"{frame.Length} bytes");
        StatsSnapshot r = StatsSnapshot.Read(Payload(frame));
        Assert.Equal(StatsSnapshot.MaxAddresses, r.Addresses.Count);
        Assert.Equal(StatsSnapshot.MaxCounters, r.Counters.Count);
        Assert.All(r.Counters, c => Assert.True(c.Device.Length <= StatsSnapshot.MaxNameBytes));
    }

    [Fact]
    public void A_short_or_overlong_snapshot_is_a_protocol_error()
    {
        byte[] p = Payload(Sample().ToFrame());
        for (int cut = 0; cut < p.Length; cut += 7)
            Assert.Throws<ProtocolException>(() => StatsSnapshot.Read(p.AsSpan(0, cut)));
        // The address list's count (after the fixed fields and five lists) claimed far beyond its bound.
        byte[] bad = Payload((Sample() with { Addresses = [], Counters = [] }).ToFrame());
        bad[^4] = 0xFF;
        bad[^3] = 0xFF;
        Assert.Throws<ProtocolException>(() => StatsSnapshot.Read(bad));
    }

    [Fact]
    public void The_example_of_docs_control_protocol_is_what_the_monitor_writes()
    {
        var s = new StatsSnapshot(1_500_000_000, 1000, VcpuRunState.Running, [new("exits", 7)], [], [], [], [], [], []);
        byte[] expected = Convert.FromHexString(
            "2E00000014000000" + "002F685900000000" + "E803000000000000" + "01" + "0100" + "0500" + "6578697473" + "0700000000000000" + "000000000000000000000000");
        Assert.Equal(expected, s.ToFrame().ToArray());
    }
}
