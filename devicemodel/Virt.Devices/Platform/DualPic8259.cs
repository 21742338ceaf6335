using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;
using Virt.Devices.State;

namespace Virt.Devices.Platform;

/// <summary>
/// The PC/AT pair of 8259As: master at 0x20/0x21 (IRQ 0-7), slave at 0xA0/0xA1 (IRQ 8-15)
/// cascaded into the master's IR2, plus the PIIX edge/level control registers at 0x4D0/0x4D1.
/// <para>
/// Runs in the monitor: <see cref="HasInterrupt"/> is a field read, and nothing allocates per access.
/// Wire <see cref="HasInterrupt"/>/<see cref="Acknowledge"/> to the CPU's INTR input and INTA cycle,
/// and each device's IRQ line to <see cref="SetIrq"/>.
/// </para>
/// </summary>
public sealed class DualPic8259 : BytePortDevice, IStatefulDevice, IMeasuredDevice
{
    public const ushort MasterCommand = 0x20, MasterData = 0x21, SlaveCommand = 0xA0, SlaveData = 0xA1;
    public const ushort ElcrMaster = 0x4D0, ElcrSlave = 0x4D1;
    public const int CascadeInput = 2;

    private const string StateTag = "PIC2";
    private const ushort StateVersion = 1;

    private static readonly BusRange[] s_ranges =
    [
        BusRange.Ports(MasterCommand, 2),
        BusRange.Ports(SlaveCommand, 2),
        BusRange.Ports(ElcrMaster, 2),
    ];

    private bool _hasInterrupt;

    public DualPic8259()
    {
        // IRQ 0, 1, 2 (timer, keyboard, cascade) and 8, 13 (RTC, FPU) are always edge-triggered on a PIIX.
        Master = new Pic8259(isMaster: true, elcrMask: 0xF8);
        Slave = new Pic8259(isMaster: false, elcrMask: 0xDE);
    }

    public Pic8259 Master { get; private set; }

    public Pic8259 Slave { get; private set; }

    public override string Name => "pic";

    /// <summary>This pair's counters (interrupts delivered, spurious ones); not part of its saved state.</summary>
    public PicMetrics Metrics { get; } = new("pic");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public override IReadOnlyList<BusRange> Ranges => s_ranges;

    /// <summary>The master's INT output: the CPU should take an interrupt (if IF allows).</summary>
    public bool HasInterrupt => _hasInterrupt;

    /// <summary>Raised when <see cref="HasInterrupt"/> changes (lets a halted vCPU be woken instead of polled).</summary>
    public event Action<bool>? InterruptOutputChanged;

    public override void Attach(IDeviceHost host) { }

    /// <summary>
    /// Drives ISA IRQ line 0-15. IRQ 2 is the cascade on an AT, so a device on ISA IRQ 2 appears
    /// at IRQ 9, as the AT bus wiring redirects it.
    /// </summary>
    public void SetIrq(int line, bool high)
    {
        if ((uint)line > 15)
            throw new ArgumentOutOfRangeException(nameof(line), line, "ISA IRQ lines are 0-15.");
        if (line == CascadeInput)
            line = 9;
        if (line < 8)
            Master.SetLine(line, high);
        else
            Slave.SetLine(line - 8, high);
        Update();
    }

    /// <summary>
    /// The INTA cycle: returns the vector to deliver and moves the interrupt into service.
    /// With nothing pending (the request went away after INTR was seen) the 8259 answers with
    /// its IR7 vector without setting ISR: the spurious IRQ 7 (or 15 via the slave) guests expect.
    /// </summary>
    public int Acknowledge()
    {
        int vector;
        int line = Master.PendingInput();
        if (line < 0)
        {
            vector = Master.VectorBase + 7;
            Metrics.Spurious++;
        }
        else
        {
            if (line == CascadeInput)
            {
                int slaveLine = Slave.PendingInput();
                if (slaveLine >= 0)
                {
                    Slave.Acknowledge(slaveLine);
                    vector = Slave.VectorBase + slaveLine;
                    Metrics.Interrupts++;
                }
                else
                {
                    vector = Slave.VectorBase + 7;
                    Metrics.Spurious++;
                }
            }
            else
            {
                vector = Master.VectorBase + line;
                Metrics.Interrupts++;
            }
            Master.Acknowledge(line);
        }
        Update();
        return vector;
    }

    protected override byte ReadByte(ushort port)
    {
        byte value = port switch
        {
            MasterCommand => Master.ReadCommand(),
            MasterData => Master.ReadData(),
            SlaveCommand => Slave.ReadCommand(),
            SlaveData => Slave.ReadData(),
            ElcrMaster => Master.Elcr,
            _ => Slave.Elcr,
        };
        Update(); // A poll read acknowledges.
        return value;
    }

    protected override void WriteByte(ushort port, byte value)
    {
        switch (port)
        {
            case MasterCommand: Master.WriteCommand(value); break;
            case MasterData: Master.WriteData(value); break;
            case SlaveCommand: Slave.WriteCommand(value); break;
            case SlaveData: Slave.WriteData(value); break;
            case ElcrMaster: Master.WriteElcr(value); break;
            default: Slave.WriteElcr(value); break;
        }
        Update();
    }

    /// <summary>Propagates the slave's INT into master IR2 and recomputes the CPU-facing output.</summary>
    private void Update()
    {
        Master.SetLine(CascadeInput, Slave.PendingInput() >= 0);
        bool output = Master.PendingInput() >= 0;
        if (output == _hasInterrupt)
            return;
        _hasInterrupt = output;
        InterruptOutputChanged?.Invoke(output);
    }

    public byte[] SaveState()
    {
        var w = new StateWriter(StateTag, StateVersion);
        Master.Save(w);
        Slave.Save(w);
        return w.ToArray();
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        // Restore into fresh chips so a damaged blob leaves the running pair untouched.
        var master = new Pic8259(isMaster: true, elcrMask: 0xF8);
        var slave = new Pic8259(isMaster: false, elcrMask: 0xDE);
        master.Restore(ref r);
        slave.Restore(ref r);
        r.End();
        Master = master;
        Slave = slave;
        Update();
    }
}
