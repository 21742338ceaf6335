using Virt.Devices.Bus;
using Virt.Devices.Rtc;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Rtc;

public sealed class RtcTests
{
    private const ulong MiB = 1024 * 1024;

    // The manual clock starts at Thursday 2024-02-29 13:45:56.000 UTC.
    private readonly Mc146818Rtc _rtc;
    private readonly TestHost _host;

    public RtcTests()
    {
        _rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 128 * MiB), out _host);
    }

    private byte Read(int index)
    {
        _rtc.Out(0x70, index);
        return _rtc.In(0x71);
    }

    private void Write(int index, int value)
    {
        _rtc.Out(0x70, index);
        _rtc.Out(0x71, value);
    }

    private bool Irq8 => _host.Level(8);

    [Fact]
    public void Claims_ports_0x70_and_0x71()
    {
        Assert.Equal([BusRange.Ports(0x70, 2)], _rtc.Ranges);
    }

    [Fact]
    public void Time_registers_read_the_host_clock_in_BCD_24_hour_by_default()
    {
        Assert.Equal(0x56, Read(0x00));
        Assert.Equal(0x45, Read(0x02));
        Assert.Equal(0x13, Read(0x04));
        Assert.Equal(0x05, Read(0x06)); // Thursday (Sunday = 1).
        Assert.Equal(0x29, Read(0x07));
        Assert.Equal(0x02, Read(0x08));
        Assert.Equal(0x24, Read(0x09));
        Assert.Equal(0x20, Read(0x32));
        Assert.Equal(0x26, Read(0x0A));
        Assert.Equal(0x02, Read(0x0B));
        Assert.Equal(0x80, Read(0x0D));
    }

    [Fact]
    public void Binary_mode_reports_plain_numbers()
    {
        Write(0x0B, 0x06);
        Assert.Equal(56, Read(0x00));
        Assert.Equal(45, Read(0x02));
        Assert.Equal(13, Read(0x04));
        Assert.Equal(29, Read(0x07));
        Assert.Equal(24, Read(0x09));
        Assert.Equal(20, Read(0x32));
    }

    [Fact]
    public void Twelve_hour_mode_sets_the_PM_bit_and_shows_midnight_as_12()
    {
        Write(0x0B, 0x00);
        Assert.Equal(0x81, Read(0x04)); // 1 PM.
        _host.Clock.Advance(TimeSpan.FromHours(10) + TimeSpan.FromMinutes(15)); // 00:00:56 next day.
        Assert.Equal(0x12, Read(0x04));
        Assert.Equal(0x03, Read(0x08)); // Leap day rolled into March 1st.
        Assert.Equal(0x01, Read(0x07));
    }

    [Fact]
    public void Clock_advances_with_host_time_and_offset_applies()
    {
        _host.Clock.Advance(TimeSpan.FromSeconds(65));
        Assert.Equal(0x01, Read(0x00));
        Assert.Equal(0x47, Read(0x02));

        var local = TestHost.Attach(new Mc146818Rtc(0, utcOffset: TimeSpan.FromHours(2)), out _);
        local.Out(0x70, 0x04);
        Assert.Equal(0x15, local.In(0x71));
    }

    [Fact]
    public void Update_in_progress_is_set_for_the_last_244_microseconds_of_each_second()
    {
        Assert.Equal(0, Read(0x0A) & 0x80);
        _host.Clock.AdvanceNanoseconds(999_755_000);
        Assert.Equal(0, Read(0x0A) & 0x80);
        _host.Clock.AdvanceNanoseconds(2_000);
        Assert.Equal(0x80, Read(0x0A) & 0x80);
        Assert.Equal(0x56, Read(0x00)); // Still the old second while UIP is high.
        _host.Clock.AdvanceNanoseconds(243_000);
        Assert.Equal(0, Read(0x0A) & 0x80);
        Assert.Equal(0x57, Read(0x00));

        // Never with updates inhibited.
        Write(0x0B, 0x82);
        _host.Clock.AdvanceNanoseconds(999_900_000);
        Assert.Equal(0, Read(0x0A) & 0x80);
    }

    [Fact]
    public void Setting_the_time_with_SET_holds_it_then_runs_from_it()
    {
        Write(0x0B, 0x82);
        Write(0x00, 0x30);
        Write(0x02, 0x59);
        Write(0x04, 0x23);
        Write(0x07, 0x31);
        Write(0x08, 0x12);
        Write(0x09, 0x99);
        Write(0x32, 0x19);
        _host.Clock.Advance(TimeSpan.FromSeconds(5)); // Held while SET.
        Assert.Equal(0x30, Read(0x00));
        Write(0x0B, 0x02);
        Assert.Equal(new DateTime(1999, 12, 31, 23, 59, 30), _rtc.GuestTime);
        _host.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(0x01, Read(0x00));
        Assert.Equal(0x00, Read(0x04));
        Assert.Equal(0x01, Read(0x07));
        Assert.Equal(0x01, Read(0x08));
        Assert.Equal(0x00, Read(0x09));
        Assert.Equal(0x20, Read(0x32));
        Assert.Equal(0x07, Read(0x06)); // 2000-01-01 was a Saturday.
    }

    [Fact]
    public void Writing_one_field_while_running_keeps_the_others()
    {
        Write(0x02, 0x10);
        Assert.Equal(0x10, Read(0x02));
        Assert.Equal(0x56, Read(0x00));
        Assert.Equal(0x13, Read(0x04));
    }

    [Fact]
    public void Periodic_interrupt_raises_IRQ8_and_reading_C_clears_it()
    {
        Write(0x0B, 0x42); // PIE, 24h, BCD; register A rate 6 = 1024 Hz.
        Assert.Equal(TimeSpan.FromTicks(9766), _rtc.NextDeadline); // 976.5625 us, rounded up.
        _host.Clock.AdvanceNanoseconds(976_000);
        _rtc.Advance();
        Assert.False(Irq8);
        _host.Clock.AdvanceNanoseconds(1_000);
        _rtc.Advance();
        Assert.True(Irq8);
        Assert.Null(_rtc.NextDeadline); // The line is already up until C is read.

        Assert.Equal(0xC0, Read(0x0C));
        Assert.False(Irq8);
        Assert.Equal(0x00, Read(0x0C));
        Assert.NotNull(_rtc.NextDeadline);
    }

    [Fact]
    public void A_periodic_tick_the_host_has_not_collected_is_due_now()
    {
        Write(0x0B, 0x42);
        _host.Clock.AdvanceNanoseconds(1_500_000);
        Assert.Equal(TimeSpan.Zero, _rtc.NextDeadline);
        _rtc.Advance();
        Assert.True(Irq8);
    }

    [Fact]
    public void Periodic_rate_follows_register_A()
    {
        Write(0x0A, 0x2F); // Rate 15: 2 Hz.
        Write(0x0B, 0x42);
        Assert.Equal(TimeSpan.FromMilliseconds(500), _rtc.NextDeadline);
        Write(0x0A, 0x23); // Rate 3: 8192 Hz.
        Assert.Equal(TimeSpan.FromTicks(1221), _rtc.NextDeadline);
        Write(0x0A, 0x20); // Rate 0: off.
        Assert.Null(_rtc.NextDeadline);
    }

    [Fact]
    public void Flags_are_set_without_their_enables_but_only_enabled_ones_interrupt()
    {
        _host.Clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(0x50, Read(0x0C)); // PF and UF, no IRQF.
        Assert.False(Irq8);
        Assert.Empty(_host.IrqCalls);
    }

    [Fact]
    public void Enabling_an_already_flagged_source_raises_the_interrupt()
    {
        Write(0x0A, 0x20); // No periodic flag, so register C below is exact.
        _host.Clock.Advance(TimeSpan.FromSeconds(1));
        _rtc.Advance();
        Assert.False(Irq8);
        Write(0x0B, 0x12); // UIE
        Assert.True(Irq8);
        Assert.Equal(0x90, Read(0x0C));
    }

    [Fact]
    public void Update_ended_interrupt_fires_each_second()
    {
        Write(0x0A, 0x20);
        _host.Clock.AdvanceNanoseconds(250_000_000);
        Write(0x0B, 0x12);
        Assert.Equal(TimeSpan.FromMilliseconds(750), _rtc.NextDeadline);
        _host.Clock.Advance(TimeSpan.FromMilliseconds(750));
        _rtc.Advance();
        Assert.True(Irq8);
        Assert.Equal(0x90, Read(0x0C));
        Assert.Equal(0x57, Read(0x00));
    }

    [Fact]
    public void Alarm_interrupt_fires_when_the_time_matches()
    {
        Write(0x0A, 0x20);
        Write(0x01, 0x58);
        Write(0x03, 0x45);
        Write(0x05, 0x13);
        Write(0x0B, 0x22); // AIE
        _host.Clock.Advance(TimeSpan.FromSeconds(1));
        _rtc.Advance();
        Assert.False(Irq8);
        _host.Clock.Advance(TimeSpan.FromSeconds(1));
        _rtc.Advance();
        Assert.True(Irq8);
        Assert.Equal(0xB0, Read(0x0C)); // IRQF, AF and the update-ended flag of the same second.
    }

    [Fact]
    public void Alarm_dont_care_fields_match_every_value()
    {
        Write(0x01, 0x00);
        Write(0x03, 0xC0);
        Write(0x05, 0xFF);
        Write(0x0B, 0x22);
        _host.Clock.Advance(TimeSpan.FromSeconds(3)); // 13:45:59: seconds 00 not reached yet.
        _rtc.Advance();
        Assert.False(Irq8);
        _host.Clock.Advance(TimeSpan.FromSeconds(1)); // 13:46:00.
        _rtc.Advance();
        Assert.True(Irq8);
    }

    [Fact]
    public void Alarm_matched_while_the_host_was_late_is_still_reported()
    {
        Write(0x01, 0x00);
        Write(0x03, 0x50);
        Write(0x05, 0x13);
        _host.Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0x20, Read(0x0C) & 0x20);
    }

    [Fact]
    public void Holding_the_divider_in_reset_stops_the_clock_and_release_delays_the_first_update_half_a_second()
    {
        Write(0x0A, 0x76);
        _host.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0x56, Read(0x00));
        Write(0x0A, 0x26);
        Write(0x0B, 0x12);
        Assert.Equal(TimeSpan.FromMilliseconds(500), _rtc.NextDeadline);
        _host.Clock.Advance(TimeSpan.FromMilliseconds(499));
        Assert.Equal(0x56, Read(0x00));
        _host.Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0x57, Read(0x00));
    }

    [Fact]
    public void SET_clears_the_update_interrupt_enable()
    {
        Write(0x0B, 0x12);
        Write(0x0B, 0x92);
        Assert.Equal(0x82, Read(0x0B));
    }

    [Fact]
    public void Index_bit_7_masks_NMI_and_does_not_affect_the_register_selected()
    {
        _rtc.Out(0x70, 0x80 | 0x0A);
        Assert.True(_rtc.NmiDisabled);
        Assert.Equal(0x26, _rtc.In(0x71));
        _rtc.Out(0x70, 0x0A);
        Assert.False(_rtc.NmiDisabled);
    }

    [Fact]
    public void CMOS_RAM_stores_bytes_and_C_and_D_are_read_only()
    {
        Write(0x40, 0xA5);
        Write(0x7F, 0x5A);
        Assert.Equal(0xA5, Read(0x40));
        Assert.Equal(0x5A, Read(0x7F));
        Write(0x0D, 0x00);
        Assert.Equal(0x80, Read(0x0D));
        Write(0x0C, 0xFF);
        Assert.Equal(0x00, Read(0x0C));
    }

    [Fact]
    public void Memory_fields_for_128_MiB()
    {
        Assert.Equal(640, Read(0x15) | Read(0x16) << 8);
        Assert.Equal(0xFFFF, Read(0x17) | Read(0x18) << 8); // 127 MiB does not fit 16 bits of KiB.
        Assert.Equal(0xFFFF, Read(0x30) | Read(0x31) << 8);
        Assert.Equal((128 - 16) * 16, Read(0x34) | Read(0x35) << 8);
        Assert.Equal(0, Read(0x5B) | Read(0x5C) | Read(0x5D));
        Assert.Equal(0x02, Read(0x14)); // FPU present.
    }

    [Fact]
    public void Memory_fields_for_32_MiB()
    {
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 32 * MiB), out _);
        byte R(int i) { rtc.Out(0x70, i); return rtc.In(0x71); }
        Assert.Equal(31 * 1024, R(0x17) | R(0x18) << 8);
        Assert.Equal(31 * 1024, R(0x30) | R(0x31) << 8);
        Assert.Equal(16 * 16, R(0x34) | R(0x35) << 8);
    }

    [Fact]
    public void Memory_fields_cap_at_their_widths_and_report_memory_above_4G()
    {
        var rtc = TestHost.Attach(new Mc146818Rtc(memoryBelow4G: 3584 * MiB, memoryAbove4G: 2048 * MiB, equipment: 0x06), out _);
        byte R(int i) { rtc.Out(0x70, i); return rtc.In(0x71); }
        Assert.Equal(0xFFFF, R(0x17) | R(0x18) << 8);
        Assert.Equal(0xFFFF, R(0x30) | R(0x31) << 8);
        Assert.Equal((3584 - 16) * 16, R(0x34) | R(0x35) << 8);
        Assert.Equal(2048 * 16, R(0x5B) | R(0x5C) << 8 | R(0x5D) << 16);
        Assert.Equal(0x06, R(0x14));
    }

    [Fact]
    public void Checksum_covers_0x10_to_0x2D()
    {
        int sum = 0;
        for (int i = 0x10; i <= 0x2D; i++)
            sum += Read(i);
        Assert.NotEqual(0, sum);
        Assert.Equal(sum, Read(0x2E) << 8 | Read(0x2F));

        _rtc.WriteCmos(0x10, 0x40); // Host configures a 1.44 MB floppy and refreshes the checksum.
        _rtc.UpdateChecksum();
        Assert.Equal(sum + 0x40, Read(0x2E) << 8 | Read(0x2F));
    }

    [Fact]
    public void Save_and_restore_round_trip_carries_time_cmos_and_pending_interrupt()
    {
        Write(0x40, 0x11);
        Write(0x0B, 0x42);
        _host.Clock.AdvanceNanoseconds(2_000_000);
        _rtc.Advance();
        Assert.True(Irq8);
        _rtc.Out(0x70, 0x80 | 0x02);

        byte[] state = _rtc.SaveState();
        // A device model started later, on a clock with another origin and another wall time.
        var clock = new ManualClock(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero), startTimestamp: 5_000_000_000);
        var copy = TestHost.Attach(new Mc146818Rtc(0), out var otherHost, clock);
        copy.RestoreState(state);

        Assert.True(otherHost.Level(8));
        Assert.True(copy.NmiDisabled);
        Assert.Equal(0x45, copy.In(0x71)); // Index 2 restored: minutes of the saved time, not 2030.
        Assert.Equal(new DateTime(2024, 2, 29, 13, 45, 56).AddMilliseconds(2), copy.GuestTime);
        copy.Out(0x70, 0x40);
        Assert.Equal(0x11, copy.In(0x71));
        copy.Out(0x70, 0x0C);
        Assert.Equal(0xC0, copy.In(0x71));
        Assert.False(otherHost.Level(8));
        clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(new DateTime(2024, 2, 29, 13, 46, 0).AddMilliseconds(2), copy.GuestTime);
    }

    [Fact]
    public void Restore_rejects_an_unknown_version()
    {
        byte[] state = _rtc.SaveState();
        state[4] = 2;
        var ex = Assert.Throws<DeviceStateException>(() => _rtc.RestoreState(state));
        Assert.Contains("version 2", ex.Message);
    }
}
