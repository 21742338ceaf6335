using Virt.Devices.Metrics;

namespace Virt.Devices.Serial;

/// <summary>
/// What a <see cref="Uart16550"/> observes, as vm-superio's SerialEvents does (buffer_read,
/// out_byte, tx_lost_byte): bytes each way, bytes lost, reads that found nothing, interrupts.
/// </summary>
public sealed class Uart16550Metrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Bytes transmitted to the sink (the console): what the guest printed.</summary>
    public long TxBytes { get; internal set; }

    /// <summary>Bytes from the line (the host's input) stored in the receiver.</summary>
    public long RxBytes { get; internal set; }

    /// <summary>Bytes that arrived with the receive FIFO (or RBR, without FIFO) full: one is lost each time, LSR.OE is set.</summary>
    public long RxOverruns { get; internal set; }

    /// <summary>RBR reads with the receiver empty: the guest read data that was not there (polling without looking at LSR.DR).</summary>
    public long MissedReads { get; internal set; }

    /// <summary>Rising edges of the IRQ line (after OUT2 gating).</summary>
    public long Interrupts { get; internal set; }

    /// <summary>Bytes transmitted in loopback mode (back into the receiver, not to the sink): drivers probing the UART.</summary>
    public long LoopbackBytes { get; internal set; }

    /// <summary>Writes of MCR (modem control: DTR, RTS, OUT1, OUT2, loopback).</summary>
    public long ModemControlWrites { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("tx_bytes", TxBytes),
        new("rx_bytes", RxBytes),
        new("rx_overruns", RxOverruns),
        new("missed_reads", MissedReads),
        new("interrupts", Interrupts),
        new("loopback_bytes", LoopbackBytes),
        new("modem_control_writes", ModemControlWrites),
    ];
}
