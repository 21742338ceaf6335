using Virt.Devices.State;

namespace Virt.Devices.Platform;

/// <summary>
/// One 8259A programmable interrupt controller. Priority resolution, EOI and initialisation
/// follow the datasheet (and QEMU's model, which guests have been tested against for years).
/// The cascade between two chips is handled by <see cref="DualPic8259"/>, which drives this chip's
/// IR2 from the slave's INT output.
/// </summary>
public sealed class Pic8259
{
    private readonly bool _isMaster;
    private readonly byte _elcrMask;

    private byte _lineLevels;        // Current level of each IR input, for edge detection.
    private int _initState;          // 0 = operational, 1-3 = expecting ICW2-ICW4.
    private bool _expectIcw4;
    private bool _single;
    private bool _readIsr;
    private bool _poll;
    private bool _specialMask;
    private bool _rotateOnAutoEoi;
    private bool _levelTriggeredAll; // ICW1.LTIM: every input level-sensitive.

    internal Pic8259(bool isMaster, byte elcrMask)
    {
        _isMaster = isMaster;
        _elcrMask = elcrMask;
    }

    /// <summary>Interrupt request register: inputs waiting to be serviced.</summary>
    public byte Irr { get; private set; }

    /// <summary>In-service register: interrupts acknowledged and not yet ended.</summary>
    public byte Isr { get; private set; }

    /// <summary>Interrupt mask register (OCW1).</summary>
    public byte Imr { get; private set; }

    /// <summary>Edge/level control register (PIIX ELCR at 0x4D0/0x4D1): 1 = level-triggered.</summary>
    public byte Elcr { get; private set; }

    /// <summary>Vector of IR0 (ICW2, low three bits zero).</summary>
    public byte VectorBase { get; private set; }

    /// <summary>Priority rotation: the input with the highest priority (0 after ICW1, moved by the rotate commands).</summary>
    public byte PriorityAdd { get; private set; }

    public bool AutoEoi { get; private set; }

    public bool SpecialFullyNested { get; private set; }

    private byte LevelMask => _levelTriggeredAll ? (byte)0xFF : Elcr;

    /// <summary>Drives input line 0-7. Edge-triggered inputs latch IRR on a rising edge; level inputs follow the line.</summary>
    internal void SetLine(int line, bool high)
    {
        byte mask = (byte)(1 << line);
        if ((LevelMask & mask) != 0)
        {
            if (high)
                Irr |= mask;
            else
                Irr &= (byte)~mask;
        }
        else if (high && (_lineLevels & mask) == 0)
        {
            Irr |= mask;
        }
        _lineLevels = high ? (byte)(_lineLevels | mask) : (byte)(_lineLevels & ~mask);
    }

    /// <summary>Priority 0 (highest) to 7 of the highest-priority bit in mask, or 8 if none.</summary>
    private int Priority(int mask)
    {
        if (mask == 0)
            return 8;
        int priority = 0;
        while ((mask & (1 << ((priority + PriorityAdd) & 7))) == 0)
            priority++;
        return priority;
    }

    /// <summary>The input this chip would interrupt the CPU for now, or -1 (this is the INT output).</summary>
    internal int PendingInput()
    {
        int priority = Priority(Irr & ~Imr);
        if (priority == 8)
            return -1;
        int inService = Isr;
        // Special mask mode: masked in-service levels no longer block lower priorities.
        if (_specialMask)
            inService &= ~Imr;
        // Special fully nested mode: the slave's own in-service level must not block further
        // (higher-priority) requests from the same slave.
        if (SpecialFullyNested && _isMaster)
            inService &= ~(1 << 2);
        return priority < Priority(inService) ? (priority + PriorityAdd) & 7 : -1;
    }

    /// <summary>The INTA cycle for input <paramref name="line"/>: into service (unless AEOI), edge request consumed.</summary>
    internal void Acknowledge(int line)
    {
        byte mask = (byte)(1 << line);
        if (AutoEoi)
        {
            if (_rotateOnAutoEoi)
                PriorityAdd = (byte)((line + 1) & 7);
        }
        else
        {
            Isr |= mask;
        }
        // A level-triggered request stays in IRR while the line is high.
        if ((LevelMask & mask) == 0)
            Irr &= (byte)~mask;
    }

    internal byte ReadCommand()
    {
        if (_poll)
            return PollRead();
        return _readIsr ? Isr : Irr;
    }

    internal byte ReadData() => _poll ? PollRead() : Imr;

    /// <summary>Poll command: the read acts as the INTA (bit 7 = interrupt present, bits 2-0 = level).</summary>
    private byte PollRead()
    {
        _poll = false;
        int line = PendingInput();
        if (line < 0)
            return 0;
        Acknowledge(line);
        return (byte)(0x80 | line);
    }

    internal void WriteCommand(byte value)
    {
        if ((value & 0x10) != 0)
        {
            Icw1(value);
        }
        else if ((value & 0x08) != 0)
        {
            // OCW3
            if ((value & 0x04) != 0)
                _poll = true;
            if ((value & 0x02) != 0)
                _readIsr = (value & 0x01) != 0;
            if ((value & 0x40) != 0)
                _specialMask = (value & 0x20) != 0;
        }
        else
        {
            Ocw2(value);
        }
    }

    internal void WriteData(byte value)
    {
        switch (_initState)
        {
            case 0:
                Imr = value;
                break;
            case 1:
                VectorBase = (byte)(value & 0xF8);
                _initState = _single ? (_expectIcw4 ? 3 : 0) : 2;
                break;
            case 2:
                // ICW3: cascade wiring. Fixed on a PC (slave on IR2), so the value is not needed.
                _initState = _expectIcw4 ? 3 : 0;
                break;
            default:
                // ICW4: bit 1 AEOI, bit 4 special fully nested (bit 0, 8086 mode, is assumed).
                AutoEoi = (value & 0x02) != 0;
                SpecialFullyNested = (value & 0x10) != 0;
                _initState = 0;
                break;
        }
    }

    internal void WriteElcr(byte value) => Elcr = (byte)(value & _elcrMask);

    private void Icw1(byte value)
    {
        // ICW1 resets the chip: mask, service and rotation cleared, edge detection re-armed, so a
        // line that is already high must go low and high again before it is seen (edge mode).
        _lineLevels = 0;
        Irr &= Elcr;
        Imr = 0;
        Isr = 0;
        PriorityAdd = 0;
        VectorBase = 0;
        _readIsr = false;
        _poll = false;
        _specialMask = false;
        AutoEoi = false;
        _rotateOnAutoEoi = false;
        SpecialFullyNested = false;
        _expectIcw4 = (value & 0x01) != 0;
        _single = (value & 0x02) != 0;
        _levelTriggeredAll = (value & 0x08) != 0;
        _initState = 1;
    }

    private void Ocw2(byte value)
    {
        int command = value >> 5;
        switch (command)
        {
            case 0: // Clear rotate in AEOI mode.
            case 4: // Set rotate in AEOI mode.
                _rotateOnAutoEoi = command == 4;
                break;
            case 1: // Non-specific EOI.
            case 5: // Rotate on non-specific EOI.
                {
                    int priority = Priority(Isr);
                    if (priority == 8)
                        break;
                    int line = (priority + PriorityAdd) & 7;
                    Isr &= (byte)~(1 << line);
                    if (command == 5)
                        PriorityAdd = (byte)((line + 1) & 7);
                    break;
                }
            case 3: // Specific EOI.
                Isr &= (byte)~(1 << (value & 7));
                break;
            case 6: // Set priority: the given level becomes the lowest.
                PriorityAdd = (byte)((value + 1) & 7);
                break;
            case 7: // Rotate on specific EOI.
                {
                    int line = value & 7;
                    Isr &= (byte)~(1 << line);
                    PriorityAdd = (byte)((line + 1) & 7);
                    break;
                }
            default: // 2: no operation.
                break;
        }
    }

    internal void Save(StateWriter w) => w
        .Byte(Irr).Byte(Isr).Byte(Imr).Byte(Elcr).Byte(VectorBase).Byte(PriorityAdd).Byte(_lineLevels)
        .Byte((byte)_initState)
        .Bool(_expectIcw4).Bool(_single).Bool(_readIsr).Bool(_poll).Bool(_specialMask)
        .Bool(AutoEoi).Bool(_rotateOnAutoEoi).Bool(SpecialFullyNested).Bool(_levelTriggeredAll);

    internal void Restore(ref StateReader r)
    {
        Irr = r.Byte();
        Isr = r.Byte();
        Imr = r.Byte();
        Elcr = (byte)(r.Byte() & _elcrMask);
        VectorBase = (byte)(r.Byte() & 0xF8);
        PriorityAdd = (byte)(r.Byte() & 7);
        _lineLevels = r.Byte();
        _initState = r.Check(r.Byte(), 0, 3, "initState");
        _expectIcw4 = r.Bool();
        _single = r.Bool();
        _readIsr = r.Bool();
        _poll = r.Bool();
        _specialMask = r.Bool();
        AutoEoi = r.Bool();
        _rotateOnAutoEoi = r.Bool();
        SpecialFullyNested = r.Bool();
        _levelTriggeredAll = r.Bool();
    }
}
