using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.State;

namespace Virt.Devices.Platform;

/// <summary>
/// PC/AT system control port B (0x61): PIT channel 2 gate (bit 0) and speaker enable (bit 1),
/// parity/channel check enables (bits 2-3, stored), the DRAM refresh toggle (bit 4) and channel 2's
/// OUT (bit 5). Linux's PIT-based TSC calibration spins on bit 5, and old BIOS delay loops count
/// bit 4 toggles, so both are computed from the PIT clock on every read.
/// </summary>
public sealed class SystemControlPortB : BytePortDevice, IStatefulDevice
{
    public const ushort Port = 0x61;
    public const byte Timer2Gate = 0x01, SpeakerData = 0x02, RefreshToggle = 0x10, Timer2Output = 0x20;

    /// <summary>Refresh requests come every 15.085 us: 18 PIT clocks, so bit 4 toggles every 18 clocks.</summary>
    public const long RefreshPeriodClocks = 18;

    private const string StateTag = "PRTB";
    private const ushort StateVersion = 1;

    private static readonly BusRange[] s_ranges = [BusRange.Ports(Port, 1)];

    private readonly Pit8254 _pit;
    private byte _value;

    public SystemControlPortB(Pit8254 pit) => _pit = pit;

    public override string Name => "portb";

    public override IReadOnlyList<BusRange> Ranges => s_ranges;

    /// <summary>Speaker enabled (bit 1): the PC speaker sounds channel 2's OUT while this is set.</summary>
    public bool SpeakerEnabled => (_value & SpeakerData) != 0;

    public override void Attach(IDeviceHost host) { }

    protected override byte ReadByte(ushort port)
    {
        long tick = _pit.CurrentTick;
        int value = _value & 0x0F;
        if ((tick / RefreshPeriodClocks & 1) != 0)
            value |= RefreshToggle;
        if (_pit.GetOutput(2))
            value |= Timer2Output;
        return (byte)value;
    }

    protected override void WriteByte(ushort port, byte value)
    {
        _value = (byte)(value & 0x0F);
        _pit.SetGate(2, (value & Timer2Gate) != 0);
    }

    public byte[] SaveState() => new StateWriter(StateTag, StateVersion).Byte(_value).ToArray();

    public void SaveState(StateWriter into) => into.Restart(StateTag, StateVersion).Byte(_value);

    /// <summary>Restores the latch only; channel 2's gate is part of the PIT's own state.</summary>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        byte value = r.Byte();
        r.End();
        _value = (byte)(value & 0x0F);
    }
}
