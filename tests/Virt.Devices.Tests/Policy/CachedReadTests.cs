using Virt.Devices.Bus;
using Virt.Devices.Rtc;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Policy;

/// <summary>
/// What a device publishes as a cached read must be exactly what the read returns, the read must
/// have no side effect, and a write outside the entry's dependency range must not change it:
/// otherwise a host answering from the table would show the guest something a real read would not.
/// </summary>
public sealed class CachedReadTests
{
    private static List<CachedRead> Published(ICachedReads d)
    {
        var list = new List<CachedRead>();
        d.PublishCachedReads(list);
        return list;
    }

    /// <summary>Every unkeyed entry equals a real read, twice (the first read changed nothing).</summary>
    private static void AssertEntriesMatchReads(IDevice device, IEnumerable<CachedRead> entries)
    {
        foreach (CachedRead e in entries.Where(e => !e.Keyed))
        {
            Assert.Equal(e.Value, device.PortRead(e.Port, e.Size));
            Assert.Equal(e.Value, device.PortRead(e.Port, e.Size));
        }
    }

    [Fact]
    public void Uart_lsr_and_scr_match_reads_through_random_register_writes()
    {
        var uart = TestHost.Attach(new Uart16550(Uart16550.Com1Port, Uart16550.Com1Irq, new BufferByteSink()), out _);
        var rng = new Random(7);
        for (int step = 0; step < 2000; step++)
        {
            var entries = Published(uart);
            AssertEntriesMatchReads(uart, entries);
            // A write outside the LSR entry's dependencies must leave LSR as published.
            ushort port = (ushort)(0x3F8 + rng.Next(8));
            byte value = port switch
            {
                0x3F9 => (byte)(rng.Next(16) & ~1), // no RX-timeout interrupt (timed)
                0x3FC => (byte)(rng.Next(2) == 0 ? 0x03 : 0x13),
                0x3FA => (byte)(rng.Next(2) == 0 ? 0x07 : 0x00),
                _ => (byte)rng.Next(256),
            };
            CachedRead? lsr = entries.Where(e => e.Port == 0x3FD).Select(e => (CachedRead?)e).FirstOrDefault();
            uart.Out(port, value);
            if (lsr is { } l && port - l.DependsOn >= l.DependsCount)
                Assert.Equal(l.Value, uart.In(0x3FD));
            if (rng.Next(4) == 0) uart.In(0x3F8); // drain received bytes now and then
        }
    }

    [Fact]
    public void Uart_lsr_with_an_error_bit_is_not_published()
    {
        var uart = TestHost.Attach(new Uart16550(Uart16550.Com1Port, Uart16550.Com1Irq, new BufferByteSink()), out _);
        uart.Out(0x3FC, 0x13); // loopback, FIFO off: the second byte overruns the first
        uart.Out(0x3F8, 1);
        uart.Out(0x3F8, 2);
        Assert.DoesNotContain(Published(uart), e => e.Port == 0x3FD);
        Assert.NotEqual(0, uart.In(0x3FD) & 0x02); // OE, cleared by this read
        Assert.Contains(Published(uart), e => e.Port == 0x3FD);
        // Looped back, a THR write changes LSR (data ready): THR is one of its dependencies.
        CachedRead lsr = Published(uart).Single(e => e.Port == 0x3FD);
        Assert.True(0x3F8 - lsr.DependsOn < lsr.DependsCount);
    }

    [Fact]
    public void Rtc_entries_are_keyed_by_the_index_and_match_reads_of_that_register()
    {
        var clock = new ManualClock();
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 64 << 20), out _, clock);
        rtc.Out(0x70, 0x45);
        rtc.Out(0x71, 0x99);
        foreach (CachedRead e in Published(rtc))
        {
            Assert.True(e.Keyed);
            Assert.Equal((ushort)0x70, e.KeyPort);
            Assert.Equal(0x7F, e.KeyMask);
            Assert.NotEqual(0x0A, e.KeyValue); // register A: UIP is a window guests poll for
            Assert.NotEqual(0x0C, e.KeyValue); // register C: a read clears it
            rtc.Out(0x70, e.KeyValue);
            Assert.Equal(e.Value, rtc.In(0x71));
        }
        Assert.Contains(Published(rtc), e => e.KeyValue == 0x45 && e.Value == 0x99);
        Assert.Contains(Published(rtc), e => e.KeyValue == 0x00); // seconds
    }
}
