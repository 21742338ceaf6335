using Virt.Devices.Metrics;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Metrics;

/// <summary>The UART's own counters (<see cref="Uart16550Metrics"/>), as the run's report shows them.</summary>
public sealed class UartMetricsTests
{
    private const int Base = 0x3F8;
    private const int Rbr = Base, Thr = Base, Ier = Base + 1, Fcr = Base + 2, Mcr = Base + 4;

    private readonly BufferByteSink _sink = new();
    private readonly Uart16550 _uart;
    private readonly TestHost _host;

    public UartMetricsTests()
    {
        _uart = TestHost.Attach(new Uart16550(Uart16550.Com1Port, Uart16550.Com1Irq, _sink, "com1"), out _host);
    }

    private long Counter(string name) => ((IMeasuredDevice)_uart).Metrics.Snapshot().Single(c => c.Name == name).Value;

    [Fact]
    public void Reports_under_its_name_every_counter_in_a_fixed_order_starting_at_zero()
    {
        IDeviceMetrics m = ((IMeasuredDevice)_uart).Metrics;
        Assert.Equal("com1", m.Device);
        Assert.Equal(["tx_bytes", "rx_bytes", "rx_overruns", "missed_reads", "interrupts", "loopback_bytes", "modem_control_writes"],
            m.Snapshot().Select(c => c.Name));
        Assert.All(m.Snapshot(), c => Assert.Equal(0, c.Value));
    }

    [Fact]
    public void Counts_the_bytes_transmitted_to_the_sink()
    {
        foreach (char c in "hello\r\n") _uart.Out(Thr, c);
        Assert.Equal(7, _sink.Bytes.Count);
        Assert.Equal(7, Counter("tx_bytes"));
        Assert.Equal(7, _uart.Metrics.TxBytes);
    }

    [Fact]
    public void A_byte_arriving_with_the_fifo_full_is_an_overrun()
    {
        _uart.Out(Fcr, 0x01); // FIFO on: 16 bytes
        byte[] line = new byte[17];
        Assert.Equal(16, _uart.Receive(line));
        Assert.Equal(16, Counter("rx_bytes"));
        Assert.Equal(1, Counter("rx_overruns"));
        _uart.In(Rbr);
        Assert.Equal(1, _uart.Receive(0x41) ? 1 : 0);
        Assert.Equal(1, Counter("rx_overruns"));
        Assert.Equal(17, Counter("rx_bytes"));
    }

    [Fact]
    public void Without_fifo_a_second_byte_before_the_first_is_read_is_an_overrun()
    {
        _uart.Receive(0x41);
        _uart.Receive(0x42); // overwrites RBR, as on a 16450
        Assert.Equal(1, Counter("rx_overruns"));
        Assert.Equal(0x42, _uart.In(Rbr));
    }

    [Fact]
    public void Reading_an_empty_receiver_is_a_missed_read()
    {
        _uart.In(Rbr);
        Assert.Equal(1, Counter("missed_reads"));
        _uart.Receive(0x41);
        Assert.Equal(0x41, _uart.In(Rbr));
        Assert.Equal(1, Counter("missed_reads"));
        _uart.In(Rbr);
        Assert.Equal(2, Counter("missed_reads"));
    }

    [Fact]
    public void Counts_rising_edges_of_its_irq_line()
    {
        _uart.Out(Mcr, 0x08);  // OUT2: the line reaches the ISA bus
        _uart.Out(Ier, 0x02);  // THRI with THR empty: interrupt
        Assert.Equal(1, _host.RisingEdges(4));
        _uart.Out(Thr, 'x');   // acknowledged by the write, raised again when the byte leaves
        Assert.Equal(_host.RisingEdges(4), Counter("interrupts"));
        Assert.Equal(2, _host.RisingEdges(4));
        Assert.Equal(1, Counter("modem_control_writes"));
    }

    [Fact]
    public void Loopback_bytes_go_back_to_the_receiver_and_are_not_transmitted()
    {
        _uart.Out(Mcr, 0x10);
        _uart.Out(Thr, 'a');
        Assert.Equal(1, Counter("loopback_bytes"));
        Assert.Equal(0, Counter("tx_bytes"));
        Assert.Equal((byte)'a', _uart.In(Rbr));
        Assert.Equal(0, Counter("missed_reads"));
    }

    [Fact]
    public void Counters_are_not_part_of_the_saved_state()
    {
        _uart.Out(Thr, 'a');
        var other = TestHost.Attach(new Uart16550(sink: new BufferByteSink()), out _);
        other.RestoreState(_uart.SaveState());
        Assert.Equal(0, other.Metrics.TxBytes);
    }
}
