using Virt.Devices.Bus;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Serial;

public sealed class UartTests
{
    private const int Base = 0x3F8;
    private const int Rbr = Base, Thr = Base, Ier = Base + 1, Iir = Base + 2, Fcr = Base + 2;
    private const int Lcr = Base + 3, Mcr = Base + 4, Lsr = Base + 5, Msr = Base + 6, Scr = Base + 7;

    private readonly BufferByteSink _sink = new();
    private readonly Uart16550 _uart;
    private readonly TestHost _host;

    public UartTests()
    {
        _uart = TestHost.Attach(new Uart16550(Uart16550.Com1Port, Uart16550.Com1Irq, _sink), out _host);
    }

    private bool Irq4 => _host.Level(4);

    [Fact]
    public void Claims_eight_ports_at_its_base()
    {
        Assert.Equal([BusRange.Ports(0x3F8, 8)], _uart.Ranges);
        var com2 = new Uart16550(Uart16550.Com2Port, Uart16550.Com2Irq);
        Assert.Equal([BusRange.Ports(0x2F8, 8)], com2.Ranges);
        Assert.Equal(3, com2.Irq);
    }

    [Fact]
    public void Reset_state_matches_a_16550A()
    {
        Assert.Equal(0x01, _uart.In(Iir));
        Assert.Equal(0x60, _uart.In(Lsr));
        Assert.Equal(0xB0, _uart.In(Msr)); // DCD, DSR, CTS asserted; no deltas.
        Assert.Equal(0x00, _uart.In(Ier));
        Assert.Equal(0x00, _uart.In(Lcr));
        Assert.Equal(0x00, _uart.In(Mcr));
        Assert.False(Irq4);
    }

    [Fact]
    public void Divisor_latch_is_reached_through_DLAB_and_leaves_IER_alone()
    {
        _uart.Out(Ier, 0x05);
        _uart.Out(Lcr, 0x83);
        _uart.Out(Base, 0x01);
        _uart.Out(Base + 1, 0x00);
        Assert.Equal(0x01, _uart.In(Base));
        Assert.Equal(0x00, _uart.In(Base + 1));
        _uart.Out(Lcr, 0x03);
        Assert.Equal(0x05, _uart.In(Ier));
        Assert.Equal(115200, _uart.BaudRate);
        Assert.Empty(_sink.Bytes); // The DLL write did not transmit.
    }

    [Fact]
    public void Scratch_register_stores_a_byte()
    {
        _uart.Out(Scr, 0x5A);
        Assert.Equal(0x5A, _uart.In(Scr));
    }

    [Fact]
    public void Transmitted_bytes_reach_the_sink_immediately_and_the_transmitter_is_empty_again()
    {
        foreach (char c in "hi\n")
        {
            _uart.Out(Thr, c);
            Assert.Equal(0x60, _uart.In(Lsr) & 0x60);
        }
        Assert.Equal("hi\n", _sink.Text);
    }

    [Fact]
    public void IRQ_is_gated_by_OUT2()
    {
        _uart.Out(Ier, 0x02);
        Assert.Equal(0x02, _uart.In(Iir) & 0x0F); // pending (and now acknowledged)...
        _uart.Out(Ier, 0x00);
        _uart.Out(Ier, 0x02);                     // ...re-armed, but OUT2 is still clear.
        Assert.False(Irq4);
        _uart.Out(Mcr, 0x08);
        Assert.True(Irq4);
        _uart.Out(Mcr, 0x00);
        Assert.False(Irq4);
    }

    [Fact]
    public void THRE_interrupt_is_acknowledged_by_reading_IIR_and_rearmed_by_enabling_it_again()
    {
        _uart.Out(Mcr, 0x0B);
        _uart.Out(Ier, 0x02);
        Assert.True(Irq4);
        Assert.Equal(0x02, _uart.In(Iir));
        Assert.False(Irq4);
        Assert.Equal(0x01, _uart.In(Iir));
        // Writing IER with THRI still set does not re-arm; toggling it does.
        _uart.Out(Ier, 0x02);
        Assert.Equal(0x01, _uart.In(Iir));
        _uart.Out(Ier, 0x00);
        _uart.Out(Ier, 0x02);
        Assert.True(Irq4);
        Assert.Equal(0x02, _uart.In(Iir));
    }

    [Fact]
    public void Writing_THR_acknowledges_and_reasserts_THRE_as_an_edge()
    {
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x02);
        int edges = _host.RisingEdges(4);
        _uart.Out(Thr, 'x');
        Assert.Equal(edges + 1, _host.RisingEdges(4));
        Assert.True(Irq4);
        Assert.Equal(0x02, _uart.In(Iir));
    }

    [Fact]
    public void Linux_THRE_bug_probe_sees_a_working_UART()
    {
        // serial8250_do_startup: IER=THRI, read IIR, IER=0, IER=THRI, read IIR; both must show an interrupt.
        _uart.Out(Lcr, 0x03);
        _uart.Out(Mcr, 0x0B);
        _uart.Out(Ier, 0x02);
        byte iir1 = _uart.In(Iir);
        _uart.Out(Ier, 0x00);
        _uart.Out(Ier, 0x02);
        byte iir = _uart.In(Iir);
        _uart.Out(Ier, 0x00);
        Assert.Equal(0, iir1 & 0x01);
        Assert.Equal(0, iir & 0x01);

        // The UART_BUG_TXEN check: enabling THRI with an empty transmitter raises the interrupt.
        _uart.Out(Ier, 0x02);
        byte lsr = _uart.In(Lsr);
        iir = _uart.In(Iir);
        _uart.Out(Ier, 0x00);
        Assert.NotEqual(0, lsr & 0x40);
        Assert.Equal(0, iir & 0x01);
    }

    [Fact]
    public void Linux_autoconfig_identifies_a_16550A()
    {
        // Existence test on IER.
        byte scratch = _uart.In(Ier);
        _uart.Out(Ier, 0);
        byte scratch2 = (byte)(_uart.In(Ier) & 0x0F);
        _uart.Out(Ier, 0x0F);
        byte scratch3 = (byte)(_uart.In(Ier) & 0x0F);
        _uart.Out(Ier, scratch);
        Assert.Equal(0, scratch2);
        Assert.Equal(0x0F, scratch3);

        // Loopback test: MCR = LOOP | OUT2 | RTS must read back DCD | CTS in MSR.
        byte saveMcr = _uart.In(Mcr);
        _uart.Out(Mcr, 0x10 | 0x0A);
        byte status1 = (byte)(_uart.In(Msr) & 0xF0);
        _uart.Out(Mcr, saveMcr);
        Assert.Equal(0x90, status1);

        // FIFO type: EFR dance, then FCR enable; IIR bits 7-6 = 11 means 16550A.
        _uart.Out(Lcr, 0xBF);
        _uart.Out(Base + 2, 0);
        _uart.Out(Lcr, 0);
        _uart.Out(Fcr, 0x01);
        Assert.Equal(3, _uart.In(Iir) >> 6);

        // autoconfig_16550a: with DLAB the "EFR" read is IIR, which must not be 0 (not a ST16C650).
        _uart.Out(Lcr, 0x80);
        Assert.NotEqual(0, _uart.In(Base + 2));
        // No 64-byte FIFO: IIR bit 5 stays clear with FCR7_64BYTE, with and without DLAB.
        _uart.Out(Lcr, 0);
        _uart.Out(Fcr, 0x21);
        Assert.Equal(0, _uart.In(Iir) & 0x20);
        _uart.Out(Lcr, 0x80);
        _uart.Out(Fcr, 0x21);
        Assert.Equal(0, _uart.In(Iir) & 0x20);
        _uart.Out(Lcr, 0);
        // Not an XScale: IER bit 6 does not stick.
        _uart.Out(Ier, 0x40);
        Assert.Equal(0, _uart.In(Ier) & 0x40);
        // Startup refuses a port whose LSR reads 0xFF.
        Assert.NotEqual(0xFF, _uart.In(Lsr));
    }

    [Theory]
    [InlineData(0x00, 1)]
    [InlineData(0x40, 4)]
    [InlineData(0x80, 8)]
    [InlineData(0xC0, 14)]
    public void Received_data_interrupt_waits_for_the_FIFO_trigger_level(int fcrTrigger, int level)
    {
        _uart.Out(Fcr, 0x01 | fcrTrigger);
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x01);
        for (int i = 0; i < level - 1; i++)
            Assert.True(_uart.Receive((byte)('a' + i)));
        Assert.False(Irq4);
        Assert.Equal(0xC1, _uart.In(Iir));
        Assert.Equal(level > 1 ? 0x01 : 0x00, _uart.In(Lsr) & 0x01); // Data is there, just not interrupting yet.

        _uart.Receive((byte)'z');
        Assert.True(Irq4);
        Assert.Equal(0xC4, _uart.In(Iir));
        // Draining below the trigger level withdraws the interrupt.
        _uart.In(Rbr);
        Assert.False(Irq4);
    }

    [Fact]
    public void FIFO_returns_bytes_in_order_and_clears_DR_when_empty()
    {
        _uart.Out(Fcr, 0x01);
        Assert.Equal(3, _uart.Receive("abc"u8));
        Assert.Equal((byte)'a', _uart.In(Rbr));
        Assert.Equal((byte)'b', _uart.In(Rbr));
        Assert.Equal(0x01, _uart.In(Lsr) & 0x01);
        Assert.Equal((byte)'c', _uart.In(Rbr));
        Assert.Equal(0x00, _uart.In(Lsr) & 0x01);
    }

    [Fact]
    public void Character_timeout_interrupt_fires_after_four_character_times()
    {
        // 115200 8N1: 10 bits per character, so four characters take 347.2 us.
        _uart.Out(Lcr, 0x80);
        _uart.Out(Base, 1);
        _uart.Out(Base + 1, 0);
        _uart.Out(Lcr, 0x03);
        _uart.Out(Fcr, 0x81); // Trigger level 8.
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x01);
        Assert.Null(_uart.NextDeadline);

        _uart.Receive((byte)'k');
        Assert.Equal(TimeSpan.FromTicks(3473), _uart.NextDeadline); // 347.23 us, rounded up.
        _host.Clock.AdvanceNanoseconds(347_000);
        _uart.Advance();
        Assert.False(Irq4);
        Assert.Equal(0xC1, _uart.In(Iir));

        _host.Clock.AdvanceNanoseconds(300);
        _uart.Advance();
        Assert.True(Irq4);
        Assert.Equal(0xCC, _uart.In(Iir));
        Assert.Null(_uart.NextDeadline);
        Assert.Equal((byte)'k', _uart.In(Rbr));
        Assert.False(Irq4);
        Assert.Equal(0xC1, _uart.In(Iir));
    }

    [Fact]
    public void Timeout_length_follows_the_line_settings()
    {
        // 9600 baud (divisor 12), 7E2: 1 + 7 + 1 + 2 = 11 bits; four characters = 44 * 12 / 115200 s = 4.583 ms.
        _uart.Out(Lcr, 0x80);
        _uart.Out(Base, 12);
        _uart.Out(Lcr, 0x1E);
        _uart.Out(Fcr, 0xC1);
        _uart.Out(Ier, 0x01);
        _uart.Receive((byte)'k');
        Assert.Equal(TimeSpan.FromTicks(45834), _uart.NextDeadline);
    }

    [Fact]
    public void Single_byte_mode_overrun_raises_a_line_status_interrupt_with_top_priority()
    {
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x05);
        _uart.Receive((byte)'1');
        Assert.Equal(0x04, _uart.In(Iir));
        _uart.Receive((byte)'2'); // Overwrites RBR: overrun.
        Assert.Equal(0x06, _uart.In(Iir));
        Assert.Equal(0x03, _uart.In(Lsr) & 0x03); // OE | DR; the read clears OE.
        Assert.Equal(0x01, _uart.In(Lsr) & 0x03);
        Assert.Equal(0x04, _uart.In(Iir));
        Assert.Equal((byte)'2', _uart.In(Rbr));
        Assert.Equal(0x01, _uart.In(Iir));
        Assert.False(Irq4);
    }

    [Fact]
    public void FIFO_overrun_keeps_the_first_sixteen_bytes()
    {
        _uart.Out(Fcr, 0x01);
        Assert.Equal(16, _uart.ReceiveCapacity);
        var data = new byte[17];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)i;
        Assert.Equal(16, _uart.Receive(data));
        Assert.Equal(0, _uart.ReceiveCapacity);
        Assert.Equal(0x02, _uart.In(Lsr) & 0x02);
        for (int i = 0; i < 16; i++)
            Assert.Equal(i, _uart.In(Rbr));
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
    }

    [Fact]
    public void FCR_clears_the_receive_FIFO()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Receive("abc"u8);
        _uart.Out(Fcr, 0x03);
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
        _uart.Receive("d"u8);
        Assert.Equal((byte)'d', _uart.In(Rbr));
    }

    [Fact]
    public void Interrupt_identification_follows_priority_order()
    {
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x0F);
        _uart.Receive((byte)'a');
        _uart.Receive((byte)'b');                              // Overrun (16450 mode).
        _uart.SetModemInputs(cts: true, dsr: true, ri: false, dcd: false); // DCD dropped.
        // THRE is pending since IER was enabled with an empty transmitter.
        Assert.Equal(0x06, _uart.In(Iir)); // Line status first...
        _uart.In(Lsr);
        Assert.Equal(0x04, _uart.In(Iir)); // ...then received data...
        _uart.In(Rbr);
        Assert.Equal(0x02, _uart.In(Iir)); // ...then THRE (this read acknowledges it)...
        Assert.Equal(0x00, _uart.In(Iir)); // ...then modem status...
        Assert.True(Irq4);
        Assert.Equal(0x08, _uart.In(Msr) & 0x0F);
        Assert.Equal(0x01, _uart.In(Iir)); // ...then nothing.
        Assert.False(Irq4);
    }

    [Fact]
    public void Loopback_routes_transmitted_bytes_to_the_receiver_and_modem_outputs_to_inputs()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, 0x10);
        Assert.Equal(0x00, _uart.In(Msr) & 0xF0); // All modem outputs off.
        _uart.Out(Thr, 0x42);
        Assert.Empty(_sink.Bytes);
        Assert.Equal(0x01, _uart.In(Lsr) & 0x01);
        Assert.Equal(0x42, _uart.In(Rbr));

        // DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        _uart.Out(Mcr, 0x10 | 0x01);
        Assert.Equal(0x20, _uart.In(Msr) & 0xF0);
        _uart.Out(Mcr, 0x10 | 0x02);
        Assert.Equal(0x10, _uart.In(Msr) & 0xF0);
        _uart.Out(Mcr, 0x10 | 0x04);
        Assert.Equal(0x40, _uart.In(Msr) & 0xF0);
        _uart.Out(Mcr, 0x10 | 0x08);
        Assert.Equal(0x8C, _uart.In(Msr)); // DCD rose (DDCD) and RI fell (TERI, trailing edge only).
        _uart.Out(Mcr, 0x10 | 0x0C);
        Assert.Equal(0xC0, _uart.In(Msr)); // RI rising is not a TERI event.

        // The line input is disconnected in loopback.
        Assert.Equal(0, _uart.Receive("x"u8));
    }

    [Fact]
    public void Loopback_interrupts_are_identified_but_do_not_drive_the_PC_IRQ_line()
    {
        _uart.Out(Mcr, 0x10 | 0x08);
        _uart.Out(Ier, 0x01);
        _uart.Out(Thr, 0x42);
        Assert.Equal(0x04, _uart.In(Iir) & 0x0F);
        Assert.False(Irq4);
        _uart.Out(Mcr, 0x08); // Leave loopback with OUT2 set: the pending interrupt reaches the line.
        Assert.True(Irq4);
    }

    [Fact]
    public void Paused_transmitter_holds_bytes_in_the_TX_FIFO_until_resumed()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x02);
        _uart.In(Iir);
        _uart.TransmitterPaused = true;
        for (int i = 0; i < 20; i++)
            _uart.Out(Thr, 'a' + i);
        Assert.Empty(_sink.Bytes);
        Assert.Equal(0x00, _uart.In(Lsr) & 0x60);
        Assert.False(Irq4);

        _uart.TransmitterPaused = false;
        Assert.Equal("abcdefghijklmnop", _sink.Text); // 16 fit; the rest were lost, as on a full FIFO.
        Assert.Equal(0x60, _uart.In(Lsr) & 0x60);
        Assert.True(Irq4);
        Assert.Equal(0xC2, _uart.In(Iir));
    }

    [Fact]
    public void Modem_status_change_raises_the_modem_interrupt_until_MSR_is_read()
    {
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x08);
        Assert.False(Irq4);
        _uart.SetModemInputs(cts: false, dsr: true, ri: false, dcd: true);
        Assert.True(Irq4);
        Assert.Equal(0x00, _uart.In(Iir));
        Assert.Equal(0xA1, _uart.In(Msr)); // DCD | DSR | DCTS.
        Assert.False(Irq4);
        Assert.Equal(0xA0, _uart.In(Msr));
    }

    [Fact]
    public void Save_and_restore_round_trip_preserves_registers_fifos_and_irq()
    {
        _uart.Out(Lcr, 0x80);
        _uart.Out(Base, 3);
        _uart.Out(Lcr, 0x1B);
        _uart.Out(Fcr, 0x41);
        _uart.Out(Mcr, 0x0B);
        _uart.Out(Ier, 0x05);
        _uart.Out(Scr, 0x77);
        _uart.Receive("wxyz"u8);
        Assert.True(Irq4);

        byte[] state = _uart.SaveState();
        var copy = TestHost.Attach(new Uart16550(sink: _sink), out var otherHost, new ManualClock(startTimestamp: 123_456_789));
        copy.RestoreState(state);
        Assert.Equal(state, copy.SaveState());

        Assert.True(otherHost.Level(4)); // The new host's line is driven to the restored level.
        Assert.Equal(0xC4, copy.In(Iir));
        Assert.Equal(0x1B, copy.In(Lcr));
        Assert.Equal(0x0B, copy.In(Mcr));
        Assert.Equal(0x05, copy.In(Ier));
        Assert.Equal(0x77, copy.In(Scr));
        Assert.Equal(38400, copy.BaudRate);
        Assert.Equal("wxyz", string.Concat(Enumerable.Range(0, 4).Select(_ => (char)copy.In(Rbr))));
        Assert.Equal(0, copy.In(Lsr) & 0x01);
    }

    [Fact]
    public void Restore_rejects_unknown_versions_other_devices_and_truncation()
    {
        byte[] state = _uart.SaveState();
        byte[] future = (byte[])state.Clone();
        future[4] = 99;
        var ex = Assert.Throws<DeviceStateException>(() => _uart.RestoreState(future));
        Assert.Contains("version 99", ex.Message);

        Assert.Throws<DeviceStateException>(() => _uart.RestoreState(new Virt.Devices.Debug.PostCodePort().SaveState()));
        Assert.Throws<DeviceStateException>(() => _uart.RestoreState(state.AsSpan(0, state.Length - 1)));
    }
}
