using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;
using Virt.Devices.Sinks;

namespace Virt.Devices.Debug;

/// <summary>
/// The Bochs/QEMU debug console ("port E9 hack"): every byte written goes straight to the sink,
/// with no UART to program, so firmware and early kernels can print before anything is set up.
/// Reads return 0xE9, which is how guests detect that the port exists.
/// </summary>
public sealed partial class DebugConsolePort : BytePortDevice, IMeasuredDevice
{
    public const ushort DefaultPort = 0xE9;

    private readonly BusRange[] _ranges;
    private readonly IByteSink _sink;
    private readonly ushort _port;

    public DebugConsolePort(IByteSink sink, ushort port = DefaultPort)
    {
        _sink = sink;
        _port = port;
        _ranges = [BusRange.Ports(port, 1)];
    }

    public override string Name => "debugcon";

    /// <summary>This port's counters (bytes printed).</summary>
    public DebugConsoleMetrics Metrics { get; } = new("debugcon");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public override IReadOnlyList<BusRange> Ranges => _ranges;

    public override void Attach(IDeviceHost host) { }

    protected override byte ReadByte(ushort port) => 0xE9;

    protected override void WriteByte(ushort port, byte value)
    {
        if (port == _port)
        {
            _sink.Write(value);
            Metrics.Bytes++;
        }
    }
}
