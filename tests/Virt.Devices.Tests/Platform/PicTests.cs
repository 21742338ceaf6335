using Virt.Devices.Bus;
using Virt.Devices.Platform;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Platform;

public sealed class PicTests
{
    private readonly DualPic8259 _pic;

    public PicTests()
    {
        _pic = TestHost.Attach(new DualPic8259(), out _);
    }

    /// <summary>The sequence Linux's init_8259A and BIOSes use: edge, cascade, ICW4, 8086 mode.</summary>
    private void Initialise(int masterBase = 0x20, int slaveBase = 0x28, int icw4 = 0x01)
    {
        _pic.Out(0x21, 0xFF);
        _pic.Out(0xA1, 0xFF);
        _pic.Out(0x20, 0x11);
        _pic.Out(0x21, masterBase);
        _pic.Out(0x21, 0x04);
        _pic.Out(0x21, icw4);
        _pic.Out(0xA0, 0x11);
        _pic.Out(0xA1, slaveBase);
        _pic.Out(0xA1, 0x02);
        _pic.Out(0xA1, icw4);
        _pic.Out(0x21, 0x00);
        _pic.Out(0xA1, 0x00);
    }

    private void Pulse(int line)
    {
        _pic.SetIrq(line, true);
        _pic.SetIrq(line, false);
    }

    private byte ReadIsr(int commandPort)
    {
        _pic.Out(commandPort, 0x0B);
        return _pic.In(commandPort);
    }

    private byte ReadIrr(int commandPort)
    {
        _pic.Out(commandPort, 0x0A);
        return _pic.In(commandPort);
    }

    [Fact]
    public void Claims_both_chips_and_the_ELCR()
    {
        Assert.Equal([BusRange.Ports(0x20, 2), BusRange.Ports(0xA0, 2), BusRange.Ports(0x4D0, 2)], _pic.Ranges);
    }

    [Fact]
    public void Initialisation_sets_vector_bases_and_an_interrupt_is_delivered_and_put_in_service()
    {
        Initialise();
        Assert.Equal(0x20, _pic.Master.VectorBase);
        Assert.Equal(0x28, _pic.Slave.VectorBase);
        Assert.False(_pic.HasInterrupt);

        _pic.SetIrq(0, true);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x01, ReadIrr(0x20));
        Assert.Equal(0x20, _pic.Acknowledge());
        Assert.False(_pic.HasInterrupt);
        Assert.Equal(0x01, ReadIsr(0x20));
        Assert.Equal(0x00, ReadIrr(0x20));
        _pic.Out(0x20, 0x20);
        Assert.Equal(0x00, ReadIsr(0x20));
    }

    [Fact]
    public void Initialisation_without_ICW4_and_single_mode_skip_their_words()
    {
        _pic.Out(0x20, 0x12);  // Single, no ICW4: only ICW2 follows.
        _pic.Out(0x21, 0x40);
        _pic.Out(0x21, 0xFE);  // Already OCW1.
        Assert.Equal(0x40, _pic.Master.VectorBase);
        Assert.Equal(0xFE, _pic.In(0x21));
    }

    [Fact]
    public void Masked_edges_are_latched_and_delivered_when_unmasked()
    {
        Initialise();
        _pic.Out(0x21, 0x02);
        Pulse(1);
        Assert.False(_pic.HasInterrupt);
        Assert.Equal(0x02, ReadIrr(0x20));
        Assert.Equal(0x02, _pic.In(0x21));
        _pic.Out(0x21, 0x00);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x21, _pic.Acknowledge());
    }

    [Fact]
    public void Lower_number_wins_and_in_service_blocks_equal_and_lower_priorities_until_EOI()
    {
        Initialise();
        Pulse(5);
        Pulse(3);
        Assert.Equal(0x23, _pic.Acknowledge());
        Assert.False(_pic.HasInterrupt); // IRQ 5 waits for IRQ 3's EOI.
        Pulse(1);
        Assert.True(_pic.HasInterrupt);  // Higher priority nests.
        Assert.Equal(0x21, _pic.Acknowledge());
        Assert.Equal(0x0A, ReadIsr(0x20));
        _pic.Out(0x20, 0x20);            // Non-specific EOI ends the highest in service: IRQ 1.
        Assert.Equal(0x08, ReadIsr(0x20));
        Assert.False(_pic.HasInterrupt);
        _pic.Out(0x20, 0x63);            // Specific EOI for IRQ 3.
        Assert.Equal(0x00, ReadIsr(0x20));
        Assert.Equal(0x25, _pic.Acknowledge());
    }

    [Fact]
    public void Slave_interrupts_cascade_through_IR2()
    {
        Initialise();
        Pulse(8);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x04, ReadIrr(0x20));
        Assert.Equal(0x28, _pic.Acknowledge());
        Assert.Equal(0x04, ReadIsr(0x20));
        Assert.Equal(0x01, ReadIsr(0xA0));
        Pulse(14);
        Assert.False(_pic.HasInterrupt); // IR2 is in service on the master.
        _pic.Out(0xA0, 0x20);
        _pic.Out(0x20, 0x20);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x2E, _pic.Acknowledge());
    }

    [Fact]
    public void Slave_lines_outrank_master_lines_below_IR2()
    {
        Initialise();
        Pulse(3);
        Pulse(12);
        Assert.Equal(0x2C, _pic.Acknowledge());
        _pic.Out(0xA0, 0x20);
        _pic.Out(0x20, 0x20);
        Assert.Equal(0x23, _pic.Acknowledge());
    }

    [Fact]
    public void Spurious_master_interrupt_returns_IRQ7_vector_without_setting_ISR()
    {
        Initialise();
        _pic.Out(0x4D0, 0x20); // IRQ 5 level-triggered.
        _pic.SetIrq(5, true);
        Assert.True(_pic.HasInterrupt);
        _pic.SetIrq(5, false);  // The request goes away before INTA.
        Assert.False(_pic.HasInterrupt);
        Assert.Equal(0x27, _pic.Acknowledge());
        Assert.Equal(0x00, ReadIsr(0x20)); // Linux's check: ISR bit 7 clear means spurious.
    }

    [Fact]
    public void Spurious_slave_interrupt_returns_IRQ15_vector_and_leaves_the_master_cascade_in_service()
    {
        Initialise();
        _pic.Out(0x4D1, 0x02); // IRQ 9 level-triggered.
        _pic.SetIrq(9, true);
        _pic.SetIrq(9, false);  // Master IR2 latched the slave's edge; the slave has nothing now.
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x2F, _pic.Acknowledge());
        Assert.Equal(0x00, ReadIsr(0xA0));
        Assert.Equal(0x04, ReadIsr(0x20));
    }

    [Fact]
    public void Edge_triggered_line_held_high_interrupts_once()
    {
        Initialise();
        _pic.SetIrq(4, true);
        Assert.Equal(0x24, _pic.Acknowledge());
        _pic.Out(0x20, 0x20);
        Assert.False(_pic.HasInterrupt);
        _pic.SetIrq(4, false);
        _pic.SetIrq(4, true);
        Assert.True(_pic.HasInterrupt);
    }

    [Fact]
    public void Level_triggered_line_interrupts_again_after_EOI_while_high()
    {
        Initialise();
        _pic.Out(0x4D1, 0x08); // IRQ 11 level.
        _pic.SetIrq(11, true);
        Assert.Equal(0x2B, _pic.Acknowledge());
        _pic.Out(0xA0, 0x20);
        _pic.Out(0x20, 0x20);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x2B, _pic.Acknowledge());
        _pic.SetIrq(11, false);
        _pic.Out(0xA0, 0x20);
        _pic.Out(0x20, 0x20);
        Assert.False(_pic.HasInterrupt);
    }

    [Fact]
    public void ELCR_bits_for_timer_keyboard_cascade_RTC_and_FPU_are_fixed_edge()
    {
        _pic.Out(0x4D0, 0xFF);
        _pic.Out(0x4D1, 0xFF);
        Assert.Equal(0xF8, _pic.In(0x4D0));
        Assert.Equal(0xDE, _pic.In(0x4D1));
    }

    [Fact]
    public void Auto_EOI_leaves_nothing_in_service()
    {
        Initialise(icw4: 0x03);
        Pulse(6);
        Assert.Equal(0x26, _pic.Acknowledge());
        Assert.Equal(0x00, ReadIsr(0x20));
        Pulse(7);
        Assert.True(_pic.HasInterrupt); // Lower priority is not blocked: nothing is in service.
    }

    [Fact]
    public void Poll_command_reads_the_highest_request_and_puts_it_in_service()
    {
        Initialise();
        _pic.Out(0x21, 0xFF); // Masked requests are not polled.
        Pulse(3);
        _pic.Out(0x20, 0x0C);
        Assert.Equal(0x00, _pic.In(0x20));
        _pic.Out(0x21, 0x00);
        _pic.Out(0x20, 0x0C);
        Assert.Equal(0x83, _pic.In(0x20));
        Assert.Equal(0x08, ReadIsr(0x20));
        Assert.Equal(0x00, ReadIrr(0x20));
        Assert.Equal(0x00, _pic.In(0x21)); // Poll mode ended with that read: IMR again.
    }

    [Fact]
    public void Rotate_on_non_specific_EOI_makes_the_serviced_line_lowest_priority()
    {
        Initialise();
        Pulse(0);
        Assert.Equal(0x20, _pic.Acknowledge());
        _pic.Out(0x20, 0xA0);
        Assert.Equal(1, _pic.Master.PriorityAdd);
        Pulse(0);
        Pulse(7);
        Assert.Equal(0x27, _pic.Acknowledge()); // IRQ 7 now outranks IRQ 0.
        _pic.Out(0x20, 0xE7);                   // Rotate on specific EOI 7: IRQ 0 highest again.
        Assert.Equal(0x20, _pic.Acknowledge());
    }

    [Fact]
    public void Set_priority_command_chooses_the_lowest_priority_line()
    {
        Initialise();
        _pic.Out(0x20, 0xC4); // IRQ 4 lowest, so IRQ 5 highest.
        Pulse(3);
        Pulse(5);
        Assert.Equal(0x25, _pic.Acknowledge());
    }

    [Fact]
    public void Rotate_in_auto_EOI_mode()
    {
        Initialise(icw4: 0x03);
        _pic.Out(0x20, 0x80);
        Pulse(1);
        Assert.Equal(0x21, _pic.Acknowledge());
        Assert.Equal(2, _pic.Master.PriorityAdd);
        _pic.Out(0x20, 0x00); // Clear rotate in AEOI.
        Pulse(3);
        _pic.Acknowledge();
        Assert.Equal(2, _pic.Master.PriorityAdd);
    }

    [Fact]
    public void Special_mask_mode_lets_lower_priorities_through_a_masked_in_service_level()
    {
        Initialise();
        Pulse(3);
        Assert.Equal(0x23, _pic.Acknowledge());
        Pulse(5);
        Assert.False(_pic.HasInterrupt);
        _pic.Out(0x21, 0x08);
        _pic.Out(0x20, 0x68); // Set special mask mode.
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x25, _pic.Acknowledge());
        _pic.Out(0x20, 0x48); // Reset special mask mode.
        Pulse(6);
        Assert.False(_pic.HasInterrupt);
    }

    [Fact]
    public void Special_fully_nested_mode_lets_a_higher_slave_request_through_an_in_service_cascade()
    {
        Initialise(icw4: 0x11);
        Pulse(12);
        Assert.Equal(0x2C, _pic.Acknowledge());
        Pulse(9);
        Assert.True(_pic.HasInterrupt);
        Assert.Equal(0x29, _pic.Acknowledge());
    }

    [Fact]
    public void ICW1_rearms_edge_detection_so_a_line_already_high_is_not_seen()
    {
        _pic.SetIrq(1, true);
        Initialise();
        Assert.False(_pic.HasInterrupt);
        _pic.SetIrq(1, false);
        _pic.SetIrq(1, true);
        Assert.True(_pic.HasInterrupt);
    }

    [Fact]
    public void ISA_IRQ2_is_redirected_to_IRQ9()
    {
        Initialise();
        Pulse(2);
        Assert.Equal(0x29, _pic.Acknowledge());
    }

    [Fact]
    public void Output_change_event_follows_HasInterrupt()
    {
        Initialise();
        var seen = new List<bool>();
        _pic.InterruptOutputChanged += seen.Add;
        Pulse(0);
        _pic.Acknowledge();
        Assert.Equal([true, false], seen);
    }

    [Fact]
    public void Save_and_restore_round_trip()
    {
        Initialise(masterBase: 0x08, slaveBase: 0x70);
        _pic.Out(0x4D1, 0x0C);
        _pic.Out(0x21, 0xB8);
        Pulse(1);
        Assert.Equal(0x09, _pic.Acknowledge());
        Pulse(0);
        Pulse(8);
        byte[] state = _pic.SaveState();

        var copy = TestHost.Attach(new DualPic8259(), out _);
        copy.RestoreState(state);
        Assert.Equal(state, copy.SaveState());
        Assert.True(copy.HasInterrupt);
        Assert.Equal(0x08, copy.Acknowledge());
        Assert.Equal(0x0C, copy.In(0x4D1));
        Assert.Equal(0xB8, copy.In(0x21));
    }

    [Fact]
    public void Restore_rejects_unknown_version_and_leaves_state_untouched_on_damage()
    {
        Initialise();
        byte[] state = _pic.SaveState();
        byte[] bad = (byte[])state.Clone();
        bad[4] = 7;
        Assert.Throws<DeviceStateException>(() => _pic.RestoreState(bad));
        byte[] damaged = (byte[])state.Clone();
        damaged[6 + 7] = 9; // Master init state out of range.
        Assert.Throws<DeviceStateException>(() => _pic.RestoreState(damaged));
        Assert.Equal(0x20, _pic.Master.VectorBase);
    }
}
