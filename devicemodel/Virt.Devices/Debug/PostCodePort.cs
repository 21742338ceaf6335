using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.State;

namespace Virt.Devices.Debug;

/// <summary>
/// The POST diagnostic port 0x80. Firmware writes progress codes here; Linux also writes it as
/// an I/O delay, which is why it must be a cheap sink that never fails. Keeps the last code and
/// a count, which is what a "where did boot stop" diagnosis needs.
/// </summary>
public sealed partial class PostCodePort : BytePortDevice, IStatefulDevice
{
    public const ushort DefaultPort = 0x80;
    private const string StateTag = "POST";
    private const ushort StateVersion = 1;

    private readonly BusRange[] _ranges;

    public PostCodePort(ushort port = DefaultPort) => _ranges = [BusRange.Ports(port, 1)];

    /// <summary>Raised for each code written (optional; for hosts that log boot progress).</summary>
    public event Action<byte>? CodeWritten;

    public byte LastCode { get; private set; }

    public long WriteCount { get; private set; }

    public override string Name => "post";

    public override IReadOnlyList<BusRange> Ranges => _ranges;

    public override void Attach(IDeviceHost host) { }

    /// <summary>Reads return the last code written, like POST cards that latch the port.</summary>
    protected override byte ReadByte(ushort port) => LastCode;

    protected override void WriteByte(ushort port, byte value)
    {
        LastCode = value;
        WriteCount++;
        CodeWritten?.Invoke(value);
    }

    public byte[] SaveState() => new StateWriter(StateTag, StateVersion).Byte(LastCode).Int64(WriteCount).ToArray();

    public void SaveState(StateWriter into) => into.Restart(StateTag, StateVersion).Byte(LastCode).Int64(WriteCount);

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        byte code = r.Byte();
        long count = r.Int64();
        r.End();
        LastCode = code;
        WriteCount = count;
    }
}
