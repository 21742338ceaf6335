using Virt.Devices.Bus;
using Virt.Devices.Platform;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Platform;

public sealed class PitTests
{
    private readonly Pit8254 _pit;
    private readonly SystemControlPortB _portB;
    private readonly TestHost _host;

    public PitTests()
    {
        _pit = TestHost.Attach(new Pit8254(), out _host);
        _portB = new SystemControlPortB(_pit);
        _portB.Attach(_host);
    }

    private ManualClock Clock => _host.Clock;

    private void Program(int control, int count)
    {
        int channel = control >> 6;
        _pit.Out(0x43, control);
        switch ((control >> 4) & 3)
        {
            case 1: _pit.Out(0x40 + channel, count & 0xFF); break;
            case 2: _pit.Out(0x40 + channel, count >> 8); break;
            default:
                _pit.Out(0x40 + channel, count & 0xFF);
                _pit.Out(0x40 + channel, count >> 8);
                break;
        }
    }

    private int LatchedCount(int channel)
    {
        _pit.Out(0x43, channel << 6);
        int lsb = _pit.In(0x40 + channel);
        return lsb | _pit.In(0x40 + channel) << 8;
    }

    private void AdvanceTo(long clocks)
    {
        Clock.SetPitClock(clocks);
        _pit.Advance();
    }

    [Fact]
    public void Claims_0x40_to_0x43_and_port_B_claims_0x61()
    {
        Assert.Equal([BusRange.Ports(0x40, 4)], _pit.Ranges);
        Assert.Equal([BusRange.Ports(0x61, 1)], _portB.Ranges);
    }

    [Fact]
    public void Clock_runs_at_1_193182_MHz_of_host_time()
    {
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1_193_182, _pit.CurrentTick);
        Clock.Advance(TimeSpan.FromHours(5)); // No overflow after hours of uptime.
        Assert.Equal(1_193_182L * (1 + 5 * 3600), _pit.CurrentTick);
    }

    [Fact]
    public void Mode_2_rate_generator_raises_IRQ0_every_period()
    {
        Program(0x34, 1193); // Linux periodic tick at HZ=1000.
        int edges = _host.RisingEdges(0);
        Assert.Equal(TimeSpan.FromTicks(9999), _pit.NextDeadline); // 1193 clocks = 999.85 us, rounded up.

        AdvanceTo(1191);
        Assert.True(_host.Level(0));
        Assert.Equal(2, LatchedCount(0));
        AdvanceTo(1192);
        Assert.False(_host.Level(0)); // OUT low for the clock before reload.
        Assert.Equal(1, LatchedCount(0));
        AdvanceTo(1193);
        Assert.True(_host.Level(0));
        Assert.Equal(edges + 1, _host.RisingEdges(0));
        Assert.Equal(1193, LatchedCount(0));
        AdvanceTo(1193 + 100);
        Assert.Equal(1093, LatchedCount(0));
    }

    [Fact]
    public void Following_NextDeadline_sees_every_period_exactly_once()
    {
        Program(0x34, 1193);
        int edges = _host.RisingEdges(0);
        for (int i = 0; i < 50; i++)
        {
            Clock.Advance(_pit.NextDeadline!.Value);
            _pit.Advance();
        }
        Assert.Equal(edges + 50, _host.RisingEdges(0));
        Assert.InRange(_pit.CurrentTick, 50 * 1193, 50 * 1193 + 2);
    }

    [Fact]
    public void An_edge_the_host_has_not_collected_is_due_now()
    {
        Program(0x34, 100);
        Clock.SetPitClock(250);
        Assert.Equal(TimeSpan.Zero, _pit.NextDeadline);
        _pit.Advance();
        Assert.Equal(TimeSpan.FromTicks(420), _pit.NextDeadline); // Next at 300 clocks: 41.9 us away.
    }

    [Fact]
    public void Missed_periods_coalesce_into_one_edge()
    {
        Program(0x34, 100);
        int edges = _host.RisingEdges(0);
        AdvanceTo(1050);
        Assert.Equal(edges + 1, _host.RisingEdges(0));
        Assert.True(_host.Level(0));
        Assert.Equal(TimeSpan.FromTicks(420), _pit.NextDeadline); // Next at 1100 clocks: 41.9 us away.
    }

    [Fact]
    public void Mode_3_square_wave_is_high_for_the_first_half_and_counts_by_two()
    {
        Program(0x36, 1000);
        Assert.True(_pit.GetOutput(0));
        Clock.SetPitClock(100);
        Assert.Equal(800, LatchedCount(0));
        Clock.SetPitClock(499);
        Assert.True(_pit.GetOutput(0));
        Clock.SetPitClock(500);
        Assert.False(_pit.GetOutput(0));
        Clock.SetPitClock(600);
        Assert.Equal(800, LatchedCount(0));
        int edges = _host.RisingEdges(0);
        AdvanceTo(1000);
        Assert.True(_pit.GetOutput(0));
        Assert.Equal(edges + 1, _host.RisingEdges(0));
    }

    [Fact]
    public void Mode_3_odd_count_is_high_one_clock_longer()
    {
        Program(0x36, 5);
        Clock.SetPitClock(2);
        Assert.True(_pit.GetOutput(0));
        Clock.SetPitClock(3);
        Assert.False(_pit.GetOutput(0));
        Clock.SetPitClock(5);
        Assert.True(_pit.GetOutput(0));
    }

    [Fact]
    public void Mode_0_drives_OUT_low_then_high_at_terminal_count_and_keeps_counting()
    {
        Program(0x34, 100);      // Leave IRQ 0 high first, so mode 0 visibly pulls it low.
        Program(0x30, 500);
        Assert.False(_host.Level(0));
        Assert.Equal(TimeSpan.FromTicks(4191), _pit.NextDeadline); // 500 clocks = 419.05 us.
        AdvanceTo(499);
        Assert.False(_host.Level(0));
        Assert.Equal(1, LatchedCount(0));
        AdvanceTo(500);
        Assert.True(_host.Level(0));
        Assert.Null(_pit.NextDeadline);
        AdvanceTo(600);
        Assert.Equal(65436, LatchedCount(0)); // Wrapped past zero.
        Assert.True(_host.Level(0));
    }

    [Fact]
    public void Mode_0_writing_the_first_byte_stops_the_count()
    {
        Program(0x30, 500);
        AdvanceTo(100);
        _pit.Out(0x40, 0x10);
        AdvanceTo(1000);
        Assert.False(_host.Level(0));
        Assert.Equal(400, LatchedCount(0));
        _pit.Out(0x40, 0x00);    // Count 0x0010 loaded.
        AdvanceTo(1016);
        Assert.True(_host.Level(0));
    }

    [Fact]
    public void Mode_4_strobe_gives_one_edge_after_the_count()
    {
        Program(0x38, 100);      // Linux's one-shot clockevent mode.
        Assert.True(_pit.GetOutput(0));
        int edges = _host.RisingEdges(0);
        AdvanceTo(100);
        Assert.False(_host.Level(0));
        Assert.Equal(TimeSpan.FromTicks(9), _pit.NextDeadline); // 101 clocks after load: 0.84 us more.
        AdvanceTo(101);
        Assert.True(_host.Level(0));
        Assert.Equal(edges + 1, _host.RisingEdges(0));
        Assert.Null(_pit.NextDeadline);
    }

    [Fact]
    public void Latch_command_freezes_the_count_until_read()
    {
        Program(0x30, 0x1000);
        Clock.SetPitClock(0x10);
        _pit.Out(0x43, 0x00);
        Clock.SetPitClock(0x300);
        _pit.Out(0x43, 0x00); // Ignored: the first latch is still unread.
        Assert.Equal(0xF0, _pit.In(0x40));
        Assert.Equal(0x0F, _pit.In(0x40));
        // Unlatched again: live count 0x1000 - 0x300.
        Assert.Equal(0x00, _pit.In(0x40));
        Assert.Equal(0x0D, _pit.In(0x40));
    }

    [Fact]
    public void Read_back_latches_status_then_count()
    {
        _pit.Out(0x43, 0x34);
        _pit.Out(0x43, 0xE2);      // Status only, channel 0, before a count is written.
        Assert.Equal(0x80 | 0x40 | 0x30 | 0x04, _pit.In(0x40)); // OUT high, null count, word, mode 2.
        _pit.Out(0x40, 0x00);
        _pit.Out(0x40, 0x01);
        Clock.SetPitClock(6);
        _pit.Out(0x43, 0xC2);      // Count and status.
        Clock.SetPitClock(60);
        Assert.Equal(0x80 | 0x30 | 0x04, _pit.In(0x40));
        Assert.Equal(0xFA, _pit.In(0x40));
        Assert.Equal(0x00, _pit.In(0x40));
    }

    [Fact]
    public void Read_back_can_select_several_channels()
    {
        Program(0x34, 1000);
        Program(0xB0, 2000);
        _portB.Out(0x61, 0x01);
        Clock.SetPitClock(10);
        _pit.Out(0x43, 0xDA);      // Count latch for channels 0 and 2.
        Clock.SetPitClock(500);
        Assert.Equal(990, _pit.In(0x40) | _pit.In(0x40) << 8);
        Assert.Equal(1990, _pit.In(0x42) | _pit.In(0x42) << 8);
    }

    [Fact]
    public void LSB_only_and_MSB_only_access()
    {
        Program(0x10, 0x50);
        Clock.SetPitClock(0x10);
        Assert.Equal(0x40, _pit.In(0x40));
        Assert.Equal(0x40, _pit.In(0x40)); // No flip-flop in LSB mode.
        Program(0x20, 0x0300);
        Clock.SetPitClock(0x10 + 0x100);
        Assert.Equal(0x02, _pit.In(0x40));
        Assert.Equal(0x02, _pit.In(0x40));
    }

    [Fact]
    public void BCD_mode_counts_in_decimal()
    {
        Program(0x31, 0x0100);     // 100 decimal.
        Clock.SetPitClock(1);
        Assert.Equal(0x0099, LatchedCount(0));
        AdvanceTo(100);
        Assert.True(_host.Level(0));
        Clock.SetPitClock(101);
        Assert.Equal(0x9999, LatchedCount(0)); // Wraps within 0-9999.
    }

    [Fact]
    public void Word_reads_toggle_the_flip_flop_and_a_control_word_resets_it()
    {
        Program(0x30, 0x1234);
        Assert.Equal(0x34, _pit.In(0x40));
        _pit.Out(0x43, 0x30);      // Resets the read flip-flop to LSB.
        _pit.Out(0x40, 0x78);
        _pit.Out(0x40, 0x56);
        Assert.Equal(0x78, _pit.In(0x40));
        Assert.Equal(0x56, _pit.In(0x40));
    }

    [Fact]
    public void Linux_pit_calibrate_tsc_loop_waits_exactly_the_programmed_time()
    {
        // arch/x86/kernel/tsc.c pit_calibrate_tsc(): 50 ms on channel 2, spin on port 0x61 bit 5.
        const int latch = 1_193_182 / (1000 / 50);
        _portB.Out(0x61, (_portB.In(0x61) & ~0x02) | 0x01);
        _pit.Out(0x43, 0xB0);
        _pit.Out(0x42, latch & 0xFF);
        _pit.Out(0x42, latch >> 8);
        long start = Clock.GetTimestamp();
        int loops = 0;
        while ((_portB.In(0x61) & 0x20) == 0)
        {
            Clock.AdvanceNanoseconds(100);
            loops++;
        }
        long elapsedNs = Clock.GetTimestamp() - start;
        long expectedNs = (latch * 1_000_000_000L + 1_193_181) / 1_193_182; // 59659 clocks = 49 999 917 ns.
        Assert.InRange(elapsedNs, expectedNs, expectedNs + 99);             // Within one 100 ns polling step.
        Assert.True(loops > 400_000);
        Assert.False(_portB.SpeakerEnabled);
    }

    [Fact]
    public void Linux_quick_pit_calibrate_sees_the_MSB_fall_by_one_every_256_clocks()
    {
        // quick_pit_calibrate(): mode 0, count 0xFFFF, unlatched LSB+MSB reads of channel 2.
        _portB.Out(0x61, (_portB.In(0x61) & ~0x02) | 0x01);
        _pit.Out(0x43, 0xB0);
        _pit.Out(0x42, 0xFF);
        _pit.Out(0x42, 0xFF);
        for (int i = 1; i < 200; i++)
        {
            Clock.SetPitClock(256L * i + 128);
            _pit.In(0x42);
            Assert.Equal(0xFF - i, _pit.In(0x42));
        }
    }

    [Fact]
    public void Channel_2_does_not_count_until_its_gate_is_raised_and_pauses_when_lowered()
    {
        Program(0xB0, 1000);
        Clock.SetPitClock(5000);
        Assert.Equal(1000, LatchedCount(2));
        Assert.Equal(0x00, _portB.In(0x61) & 0x21);
        _portB.Out(0x61, 0x01);
        Clock.SetPitClock(5400);
        Assert.Equal(600, LatchedCount(2));
        _portB.Out(0x61, 0x00);
        Clock.SetPitClock(9000);
        Assert.Equal(600, LatchedCount(2));
        _portB.Out(0x61, 0x01);
        Clock.SetPitClock(9599);
        Assert.Equal(0x00, _portB.In(0x61) & 0x20);
        Clock.SetPitClock(9600);
        Assert.Equal(0x20, _portB.In(0x61) & 0x20);
    }

    [Fact]
    public void Mode_1_one_shot_is_triggered_and_retriggered_by_the_gate()
    {
        Program(0x92, 50);         // Channel 2, LSB only, mode 1.
        Clock.SetPitClock(100);
        Assert.True(_pit.GetOutput(2));
        _portB.Out(0x61, 0x01);
        Assert.False(_pit.GetOutput(2));
        Clock.SetPitClock(140);
        _portB.Out(0x61, 0x00);
        _portB.Out(0x61, 0x01);    // Retrigger at 140: OUT stays low until 190.
        Clock.SetPitClock(189);
        Assert.False(_pit.GetOutput(2));
        Clock.SetPitClock(190);
        Assert.True(_pit.GetOutput(2));
    }

    [Fact]
    public void Mode_2_gate_low_forces_OUT_high_and_rising_gate_reloads()
    {
        Program(0xB4, 100);
        _portB.Out(0x61, 0x01);
        Clock.SetPitClock(99);
        Assert.False(_pit.GetOutput(2));
        _portB.Out(0x61, 0x00);
        Assert.True(_pit.GetOutput(2));
        Clock.SetPitClock(500);
        _portB.Out(0x61, 0x01);
        Assert.Equal(100, LatchedCount(2));
        Clock.SetPitClock(599);
        Assert.False(_pit.GetOutput(2));
    }

    [Fact]
    public void Port_B_refresh_bit_toggles_every_18_clocks_and_stores_the_low_nibble()
    {
        Clock.SetPitClock(17);
        Assert.Equal(0x00, _portB.In(0x61) & 0x10);
        Clock.SetPitClock(18);
        Assert.Equal(0x10, _portB.In(0x61) & 0x10);
        Clock.SetPitClock(36);
        Assert.Equal(0x00, _portB.In(0x61) & 0x10);

        _portB.Out(0x61, 0xFE);
        Assert.Equal(0x0E, _portB.In(0x61) & 0xCF);
        Assert.True(_portB.SpeakerEnabled);
        Assert.False(_pit.GetGate(2));
    }

    [Fact]
    public void IRQ0_reaches_the_PIC_as_timer_interrupts()
    {
        var pic = new DualPic8259();
        _host.OnIrq = pic.SetIrq;
        pic.Out(0x20, 0x11);
        pic.Out(0x21, 0x30);
        pic.Out(0x21, 0x04);
        pic.Out(0x21, 0x01);
        pic.Out(0x21, 0x00);
        Program(0x34, 1193);
        Assert.True(pic.HasInterrupt);   // Programming mode 2 raised OUT0: the first edge.
        Assert.Equal(0x30, pic.Acknowledge());
        pic.Out(0x20, 0x20);
        int ticks = 0;
        for (int i = 0; i < 20; i++)
        {
            Clock.Advance(_pit.NextDeadline!.Value);
            _pit.Advance();
            if (pic.HasInterrupt)
            {
                Assert.Equal(0x30, pic.Acknowledge());
                pic.Out(0x20, 0x20);
                ticks++;
            }
        }
        Assert.Equal(20, ticks);
    }

    [Fact]
    public void Save_and_restore_round_trip_on_a_clock_with_another_origin()
    {
        Program(0x34, 1193);
        Program(0xB0, 30000);
        _portB.Out(0x61, 0x01);
        AdvanceTo(700);
        _pit.Out(0x43, 0x80);      // A pending latch on channel 2.
        byte[] state = _pit.SaveState();

        var clock = new ManualClock(startTimestamp: 987_654_321);
        var copy = TestHost.Attach(new Pit8254(), out var otherHost, clock);
        copy.RestoreState(state);
        Assert.Equal(state, copy.SaveState());
        Assert.True(otherHost.Level(0));
        Assert.Equal(30000 - 700, copy.In(0x42) | copy.In(0x42) << 8);
        copy.Out(0x43, 0x00);
        Assert.Equal(1193 - 700, copy.In(0x40) | copy.In(0x40) << 8);
        Assert.True(copy.GetGate(2));
        Assert.Equal(TimeSpan.FromTicks(4132), copy.NextDeadline); // 493 clocks (413.18 us) to the next edge.
    }

    [Fact]
    public void Restore_rejects_an_unknown_version_and_a_damaged_blob()
    {
        Program(0x34, 1193);
        byte[] state = _pit.SaveState();
        byte[] bad = (byte[])state.Clone();
        bad[4] = 3;
        Assert.Contains("version 3", Assert.Throws<DeviceStateException>(() => _pit.RestoreState(bad)).Message);
        byte[] damaged = (byte[])state.Clone();
        damaged[7] = 9; // Channel 0 mode 9.
        Assert.Throws<DeviceStateException>(() => _pit.RestoreState(damaged));
        Assert.Equal(2, _pit.Channel(0).Mode);
    }

    [Fact]
    public void Port_accesses_and_interrupt_acknowledge_do_not_allocate()
    {
        var pic = new DualPic8259();
        Program(0xB0, 0xFFFF);
        _portB.Out(0x61, 0x01);
        void Work()
        {
            for (int i = 0; i < 1000; i++)
            {
                Clock.AdvanceNanoseconds(1000);
                _pit.In(0x42);
                _portB.In(0x61);
                _pit.Out(0x43, 0x80);
                _pit.In(0x42);
                _pit.In(0x42);
                pic.SetIrq(4, true);
                pic.Acknowledge();
                pic.SetIrq(4, false);
                pic.Out(0x20, 0x20);
                _ = _pit.NextDeadline;
            }
        }
        Work();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Work();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
