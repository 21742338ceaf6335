using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;
using Virt.Devices.State;
using Virt.Devices.Timing;

namespace Virt.Devices.Platform;

/// <summary>
/// The 8254 programmable interval timer at 0x40-0x43, clocked at 1.193182 MHz derived from the
/// host's <see cref="TimeProvider"/> timestamps (so tests drive it with a manual clock).
/// <para>
/// Channel 0's OUT drives IRQ 0; channel 1 (DRAM refresh) has its gate tied high and no outputs;
/// channel 2's gate and OUT are reached through port 0x61 (<see cref="SystemControlPortB"/>).
/// Counts and OUT are computed from the clock on every access, so polling loops such as Linux's
/// TSC calibration see exact values. IRQ 0 edges are delivered by <see cref="Advance"/>, which the
/// host calls once <see cref="NextDeadline"/> has passed; port accesses also catch up.
/// </para>
/// <para>
/// IRQ 0 is delivered as edges to an edge-triggered PIC: if several periods elapse between two
/// Advance calls the edges coalesce into one, exactly as the 8259's IRR would merge them.
/// </para>
/// </summary>
public sealed class Pit8254 : BytePortDevice, ITimedDevice, IStatefulDevice, IMeasuredDevice
{
    public const ushort Channel0Port = 0x40, ControlPort = 0x43;
    public const long InputHz = 1_193_182;
    public const int DefaultIrq = 0;

    private const string StateTag = "PIT4";
    private const ushort StateVersion = 1;

    private static readonly BusRange[] s_ranges = [BusRange.Ports(Channel0Port, 4)];

    private readonly PitChannel[] _channels;
    private readonly int _irq;
    private IDeviceHost? _host;
    private long _epoch;            // Host timestamp of PIT clock 0.
    private long _frequency;
    private long _irqSyncedTo;      // PIT clock up to which channel 0's edges have been delivered.
    private bool _irqLevel;

    public Pit8254(int irq = DefaultIrq)
    {
        _irq = irq;
        // Gates of channels 0 and 1 are tied high on a PC; channel 2's comes from port 0x61 (low at reset).
        _channels = [new PitChannel(gate: true), new PitChannel(gate: true), new PitChannel(gate: false)];
    }

    public override string Name => "pit";

    /// <summary>This PIT's counters (timer interrupts raised); not part of its saved state.</summary>
    public Pit8254Metrics Metrics { get; } = new("pit");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public override IReadOnlyList<BusRange> Ranges => s_ranges;

    public int Irq => _irq;

    /// <summary>The IRQ 0 level as last driven.</summary>
    public bool IrqLevel => _irqLevel;

    public PitChannel Channel(int index) => _channels[index];

    /// <summary>PIT input clocks since attach, from the host clock.</summary>
    public long CurrentTick => TimeMath.ScaleFloor(Host.Time.GetTimestamp() - _epoch, InputHz, _frequency);

    private IDeviceHost Host => _host ?? throw new InvalidOperationException("The PIT must be attached to a host before use.");

    public override void Attach(IDeviceHost host)
    {
        _host = host;
        _frequency = host.Time.TimestampFrequency;
        _epoch = host.Time.GetTimestamp();
        _irqSyncedTo = 0;
        SyncIrq(0);
    }

    /// <summary>OUT of a channel now (channel 2's is what port 0x61 bit 5 shows).</summary>
    public bool GetOutput(int channel) => _channels[channel].Output(CurrentTick);

    public bool GetGate(int channel) => _channels[channel].Gate;

    /// <summary>Drives a channel's GATE input (channel 2 from port 0x61 bit 0).</summary>
    public void SetGate(int channel, bool high)
    {
        long now = CurrentTick;
        if (channel == 0)
            SyncIrq(now);
        _channels[channel].SetGate(high, now);
        if (channel == 0)
            SyncIrq(now);
    }

    public TimeSpan? NextDeadline
    {
        get
        {
            // Measured from the last delivery, so an edge the host has not yet collected reads as due now.
            long edge = _channels[0].NextRisingEdge(_irqSyncedTo);
            if (edge < 0)
                return null;
            // The first host timestamp at which CurrentTick reaches the edge.
            long due = _epoch + TimeMath.ScaleCeiling(edge, _frequency, InputHz);
            return TimeMath.TimestampsToTimeSpan(due - Host.Time.GetTimestamp(), _frequency);
        }
    }

    public void Advance() => SyncIrq(CurrentTick);

    protected override byte ReadByte(ushort port)
    {
        if (port == ControlPort)
            return 0xFF; // The control register is write-only.
        return _channels[port - Channel0Port].ReadCount(CurrentTick);
    }

    protected override void WriteByte(ushort port, byte value)
    {
        long now = CurrentTick;
        SyncIrq(now);
        if (port == ControlPort)
            WriteControl(value, now);
        else
            _channels[port - Channel0Port].WriteCount(value, now);
        SyncIrq(now);
    }

    private void WriteControl(byte value, long now)
    {
        int select = value >> 6;
        if (select == 3)
        {
            // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 3-1 pick channels.
            for (int i = 0; i < 3; i++)
            {
                if ((value & (2 << i)) == 0)
                    continue;
                if ((value & 0x20) == 0)
                    _channels[i].LatchCount(now);
                if ((value & 0x10) == 0)
                    _channels[i].LatchStatus(now);
            }
            return;
        }
        int access = (value >> 4) & 3;
        if (access == 0)
            _channels[select].LatchCount(now);
        else
            _channels[select].Program(access, (value >> 1) & 7, (value & 1) != 0, now);
    }

    /// <summary>
    /// Delivers channel 0's OUT to IRQ 0 as of PIT clock <paramref name="now"/>: a rising edge since
    /// the last sync becomes a low-high pulse (if the line was already high), then the line settles at OUT.
    /// </summary>
    private void SyncIrq(long now)
    {
        if (_host == null)
            return;
        var channel = _channels[0];
        bool edge = channel.RisingEdgeBetween(_irqSyncedTo, now);
        bool output = channel.Output(now);
        _irqSyncedTo = Math.Max(_irqSyncedTo, now);
        if (edge || (output && !_irqLevel))
            Metrics.TimerInterrupts++;
        if (edge)
        {
            if (_irqLevel)
                _host.SetIrq(_irq, false);
            _host.SetIrq(_irq, true);
            _irqLevel = true;
        }
        if (output != _irqLevel)
        {
            _irqLevel = output;
            _host.SetIrq(_irq, output);
        }
    }

    public byte[] SaveState()
    {
        long now = CurrentTick;
        SyncIrq(now);
        var w = new StateWriter(StateTag, StateVersion);
        foreach (var channel in _channels)
            channel.Save(w, now);
        return w.ToArray();
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        long now = CurrentTick;
        var r = new StateReader(state, Name, StateTag, StateVersion);
        // Restore into fresh channels so a damaged blob leaves the running timer untouched.
        var restored = new PitChannel[3];
        for (int i = 0; i < 3; i++)
        {
            restored[i] = new PitChannel(gate: i != 2);
            restored[i].Restore(ref r, now);
        }
        r.End();
        restored.CopyTo(_channels, 0);
        _irqSyncedTo = now;
        _irqLevel = _channels[0].Output(now);
        Host.SetIrq(_irq, _irqLevel);
    }
}
