using Virt.Devices.Bus;
using Virt.Devices.Debug;
using Virt.Devices.Input;
using Virt.Devices.Metrics;
using Virt.Devices.Pci;
using Virt.Devices.Platform;
using Virt.Devices.Rtc;
using Virt.Devices.Sinks;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Metrics;

/// <summary>The counters of the other devices: RTC, i8042, debug console, PCI host bridge, and the monitor's PIC, PIT and APICs.</summary>
public sealed class DeviceMetricsTests
{
    private static long Counter(IDevice device, string name) =>
        ((IMeasuredDevice)device).Metrics.Snapshot().Single(c => c.Name == name).Value;

    private static void RtcWrite(Mc146818Rtc rtc, int index, int value)
    {
        rtc.Out(0x70, index);
        rtc.Out(0x71, value);
    }

    private static byte RtcRead(Mc146818Rtc rtc, int index)
    {
        rtc.Out(0x70, index);
        return rtc.In(0x71);
    }

    [Fact]
    public void Rtc_counts_its_interrupts_by_source()
    {
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 16 << 20), out TestHost host);
        RtcWrite(rtc, 0x0B, 0x42); // PIE at 1024 Hz
        for (int i = 0; i < 3; i++)
        {
            host.Clock.Advance(rtc.NextDeadline!.Value);
            rtc.Advance();
            Assert.True(host.Level(8));
            RtcRead(rtc, 0x0C); // acknowledges: the next period raises a new edge
        }
        Assert.Equal(3, Counter(rtc, "periodic_interrupts"));
        Assert.Equal(3, host.RisingEdges(8));

        RtcWrite(rtc, 0x0A, 0x20); // periodic off
        RtcWrite(rtc, 0x0B, 0x12); // UIE
        RtcRead(rtc, 0x0C);
        host.Clock.Advance(rtc.NextDeadline!.Value);
        rtc.Advance();
        Assert.Equal(1, Counter(rtc, "update_interrupts"));
        Assert.Equal(0, Counter(rtc, "alarm_interrupts"));
        Assert.Equal("rtc", ((IMeasuredDevice)rtc).Metrics.Device);
    }

    [Fact]
    public void Rtc_counts_the_alarm_interrupt()
    {
        // The manual clock starts at 13:45:56.000; the alarm is 13:45:58.
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 16 << 20), out TestHost host);
        RtcWrite(rtc, 0x0A, 0x20);
        RtcWrite(rtc, 0x01, 0x58);
        RtcWrite(rtc, 0x03, 0x45);
        RtcWrite(rtc, 0x05, 0x13);
        RtcWrite(rtc, 0x0B, 0x22); // AIE
        host.Clock.Advance(TimeSpan.FromSeconds(2));
        rtc.Advance();
        Assert.True(host.Level(8));
        Assert.Equal(1, Counter(rtc, "alarm_interrupts"));
        Assert.Equal(0, Counter(rtc, "update_interrupts")); // UF was flagged too, but not enabled
    }

    [Fact]
    public void Rtc_counts_reads_during_the_update_cycle()
    {
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 16 << 20), out TestHost host);
        RtcRead(rtc, 0x0A);
        RtcRead(rtc, 0x00);
        Assert.Equal(0, Counter(rtc, "uip_reads"));
        host.Clock.AdvanceNanoseconds(999_900_000); // 100 us before the second ends: UIP is up
        Assert.NotEqual(0, RtcRead(rtc, 0x0A) & 0x80);
        RtcRead(rtc, 0x00);
        Assert.Equal(1, Counter(rtc, "uip_reads"));
        Assert.Equal(1, Counter(rtc, "reads_while_updating"));
    }

    [Fact]
    public void I8042_counts_commands_resets_and_a20_switches()
    {
        var kbc = TestHost.Attach(new I8042Controller(), out _);
        int resets = 0;
        kbc.ResetRequested += () => resets++;
        kbc.Out(0x64, 0xAA);       // self-test
        kbc.Out(0x60, 0xFF);       // keyboard reset
        kbc.Out(0x64, 0xD1);       // write output port: A20 off, reset line kept high
        kbc.Out(0x60, 0x01);
        kbc.Out(0x64, 0xFE);       // pulse reset
        Assert.Equal(3, Counter(kbc, "commands"));
        Assert.Equal(1, Counter(kbc, "keyboard_commands"));
        Assert.Equal(1, Counter(kbc, "a20_changes"));
        Assert.Equal(1, Counter(kbc, "reset_requests"));
        Assert.Equal(resets, Counter(kbc, "reset_requests"));
    }

    [Fact]
    public void Debug_console_counts_the_bytes_printed()
    {
        var sink = new BufferByteSink();
        var con = TestHost.Attach(new DebugConsolePort(sink), out _);
        foreach (char c in "boot") con.Out(0xE9, c);
        Assert.Equal(4, Counter(con, "bytes"));
        Assert.Equal(sink.Bytes.Count, Counter(con, "bytes"));
    }

    [Fact]
    public void Pci_host_bridge_counts_configuration_cycles_to_absent_functions()
    {
        var pci = TestHost.Attach(new PciHostBridge(), out _);
        void Select(int dev) => pci.PortWrite(0xCF8, 4, 0x8000_0000u | (uint)(dev << 11));
        Select(0);
        pci.PortRead(0xCFC, 4);                 // the bridge: present
        Select(3);
        Assert.Equal(0xFFFF_FFFFu, pci.PortRead(0xCFC, 4));
        pci.PortRead(0xCFE, 2);
        pci.PortWrite(0xCFC, 4, 0x1234);
        pci.PortWrite(0xCF8, 4, 3 << 11);       // disabled: not a configuration cycle at all
        pci.PortRead(0xCFC, 4);
        pci.PortWrite(0xCF9, 1, 0x06);          // RST_CPU | SYS_RST
        Assert.Equal(2, Counter(pci, "absent_reads"));
        Assert.Equal(1, Counter(pci, "absent_writes"));
        Assert.Equal(1, Counter(pci, "reset_requests"));
    }

    [Fact]
    public void Pic_counts_interrupts_delivered_and_spurious_ones()
    {
        var pic = TestHost.Attach(new DualPic8259(), out _);
        pic.Out(0x20, 0x11); pic.Out(0x21, 0x20); pic.Out(0x21, 0x04); pic.Out(0x21, 0x01); pic.Out(0x21, 0x00);
        pic.Out(0xA0, 0x11); pic.Out(0xA1, 0x28); pic.Out(0xA1, 0x02); pic.Out(0xA1, 0x01); pic.Out(0xA1, 0x00);
        pic.SetIrq(1, true);
        Assert.Equal(0x21, pic.Acknowledge());
        pic.SetIrq(1, false);
        pic.Out(0x20, 0x20);                   // EOI: IRQ 1 leaves service, the cascade may go
        pic.SetIrq(8, true);
        Assert.Equal(0x28, pic.Acknowledge());
        Assert.Equal(0x27, pic.Acknowledge()); // nothing left: IRQ 7
        Assert.Equal(2, Counter(pic, "interrupts"));
        Assert.Equal(1, Counter(pic, "spurious"));
    }

    [Fact]
    public void Pit_counts_the_timer_interrupts_it_raises()
    {
        var pit = TestHost.Attach(new Pit8254(), out TestHost host);
        pit.Out(0x43, 0x34);
        pit.Out(0x40, 1193 & 0xFF);
        pit.Out(0x40, 1193 >> 8);
        for (int i = 0; i < 10; i++)
        {
            host.Clock.Advance(pit.NextDeadline!.Value);
            pit.Advance();
        }
        Assert.Equal(host.RisingEdges(0), Counter(pit, "timer_interrupts"));
        Assert.InRange(Counter(pit, "timer_interrupts"), 10, 11);
    }

    [Fact]
    public void Apics_count_timer_interrupts_eois_ipis_spurious_and_deliveries()
    {
        var host = new TestHost();
        var apic = new LocalApic();
        apic.Attach(host);
        apic.MmioWrite(LocalApic.DefaultBase + 0xF0, 4, 0x1FF);  // enabled, spurious vector 0xFF
        var io = new IoApic();
        io.Deliver = apic.AcceptInterrupt;
        const ulong L = LocalApic.DefaultBase, B = IoApic.DefaultBase;

        apic.MmioWrite(L + 0x3E0, 4, 0x3);       // divide by 16
        apic.MmioWrite(L + 0x320, 4, 0x30);      // one-shot, vector 0x30
        apic.MmioWrite(L + 0x380, 4, 1000);
        host.Clock.Advance(apic.NextDeadline!.Value);
        apic.Advance();
        Assert.Equal(0x30, apic.Acknowledge());
        apic.MmioWrite(L + 0xB0, 4, 0);          // EOI
        Assert.Equal(0xFF, apic.Acknowledge());  // nothing left: spurious

        io.MmioWrite(B, 4, 0x14); io.MmioWrite(B + 0x10, 4, 0x31); // pin 2, edge, vector 0x31
        io.SetPin(2, true);
        apic.MmioWrite(L + 0x300, 4, 0x4_0040);  // IPI to self, vector 0x40

        Assert.Equal(1, Counter(apic, "timer_interrupts"));
        Assert.Equal(3, Counter(apic, "interrupts"));
        Assert.Equal(1, Counter(apic, "eois"));
        Assert.Equal(1, Counter(apic, "ipis"));
        Assert.Equal(1, Counter(apic, "spurious"));
        Assert.Equal(1, Counter(io, "deliveries"));
    }

    [Fact]
    public void A_snapshot_lists_only_the_devices_that_keep_counters_in_the_order_given()
    {
        var devices = new IDevice[] { new Pit8254(), new SystemControlPortB(new Pit8254()), new DebugConsolePort(NullByteSink.Instance), new PostCodePort() };
        Assert.Equal(["pit", "debugcon"], DeviceMetricsSnapshot.Of(devices).Select(d => d.Device));
    }
}
