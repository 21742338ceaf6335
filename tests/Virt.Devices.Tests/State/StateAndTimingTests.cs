using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Platform;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;
using Virt.Devices.Timing;

namespace Virt.Devices.Tests.State;

public sealed class StateAndTimingTests
{
    [Fact]
    public void State_blob_starts_with_tag_and_version()
    {
        byte[] blob = new StateWriter("TEST", 0x0102).Byte(7).ToArray();
        Assert.Equal("TEST"u8.ToArray(), blob[..4]);
        Assert.Equal(0x02, blob[4]);
        Assert.Equal(0x01, blob[5]);
        var r = new StateReader(blob, "dev", "TEST", 0x0102);
        Assert.Equal(7, r.Byte());
        r.End();
    }

    [Fact]
    public void Reader_rejects_short_foreign_and_trailing_data()
    {
        Assert.Throws<DeviceStateException>(() => new StateReader(new byte[3], "dev", "TEST", 1));
        byte[] blob = new StateWriter("TEST", 1).Byte(1).Byte(2).ToArray();
        Assert.Contains("'TEST', expected 'ABCD'",
            Assert.Throws<DeviceStateException>(() => new StateReader(blob, "dev", "ABCD", 1)).Message);
        Assert.Throws<DeviceStateException>(() =>
        {
            var r = new StateReader(blob, "dev", "TEST", 1);
            r.Byte();
            r.End();
        });
    }

    [Fact]
    public void Scaling_is_exact_where_a_naive_product_would_overflow()
    {
        long tenDaysNs = 10L * 86_400 * 1_000_000_000;
        Assert.Equal(10L * 86_400 * 1_193_182, TimeMath.ScaleFloor(tenDaysNs, 1_193_182, 1_000_000_000));
        Assert.Equal(1, TimeMath.ScaleCeiling(1, 1_193_182, 1_000_000_000));
        Assert.Equal(0, TimeMath.ScaleFloor(1, 1_193_182, 1_000_000_000));
        Assert.Equal(TimeSpan.FromTicks(1), TimeMath.TimestampsToTimeSpan(1, 1_000_000_000));
        Assert.Equal(TimeSpan.Zero, TimeMath.TimestampsToTimeSpan(-5, 1_000_000_000));
    }

    [Fact]
    public void Bcd_conversions()
    {
        Assert.Equal(0x59, Bcd.FromBinary(59));
        Assert.Equal(59, Bcd.ToBinary(0x59));
        Assert.Equal(0x9999, Bcd.FromBinary16(9999));
        Assert.Equal(1234, Bcd.ToBinary16(0x1234));
    }

    [Fact]
    public void Word_access_is_split_into_byte_registers_and_unclaimed_bytes_float()
    {
        var pic = TestHost.Attach(new DualPic8259(), out _);
        pic.PortWrite(0x4D0, 2, 0xDEF8);
        Assert.Equal(0xDEF8u, pic.PortRead(0x4D0, 2));
        // 0x22 and 0x23 are not the PIC's: a dword read at 0x20 shows them as 0xFF.
        Assert.Equal(0xFFFFu, pic.PortRead(0x20, 4) >> 16);
    }

    [Fact]
    public void Every_device_reports_disjoint_ranges()
    {
        var pit = new Pit8254();
        IDevice[] devices =
        [
            new Virt.Devices.Serial.Uart16550(), new Virt.Devices.Serial.Uart16550(0x2F8, 3),
            new Virt.Devices.Rtc.Mc146818Rtc(0), new DualPic8259(), pit, new SystemControlPortB(pit),
            new Virt.Devices.Debug.DebugConsolePort(Virt.Devices.Sinks.NullByteSink.Instance),
            new Virt.Devices.Debug.DebugExitPort(), new Virt.Devices.Debug.PostCodePort(),
        ];
        var ranges = devices.SelectMany(d => d.Ranges).ToList();
        Assert.Equal(11, ranges.Count);
        for (int i = 0; i < ranges.Count; i++)
            for (int j = i + 1; j < ranges.Count; j++)
                Assert.False(ranges[i].Overlaps(ranges[j]), $"{ranges[i]} overlaps {ranges[j]}");
    }
}
