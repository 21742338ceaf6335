namespace Virt.Cpu.Fpu;

public sealed partial class X87Fpu
{
    private int Physical(int i) => (_top + i) & 7;

    private bool IsEmpty(int i) => (_emptyMask & (1 << Physical(i))) != 0;

    private Float80 St(int i) => _registers[Physical(i)];

    private void SetSt(int i, Float80 value)
    {
        var physical = Physical(i);
        _registers[physical] = value;
        _emptyMask &= ~(1 << physical);
    }

    /// <summary>Whether a push would overflow: ST(7), the register that becomes the new ST(0), is in use.</summary>
    private bool PushWouldOverflow => !IsEmpty(7);

    private void Push(Float80 value)
    {
        _top = (_top - 1) & 7;
        SetSt(0, value);
    }

    private void Pop()
    {
        _emptyMask |= 1 << _top;
        _top = (_top + 1) & 7;
    }

    private void ClearC1() => _status &= unchecked((ushort)~StatusC1);

    private void SetC1(bool value) => _status = (ushort)(value ? _status | StatusC1 : _status & ~StatusC1);

    private X87ExceptionFlags Masks => (X87ExceptionFlags)(_control & (ushort)X87ExceptionFlags.All);

    private bool InvalidMasked => (_control & (ushort)X87ExceptionFlags.Invalid) != 0;

    /// <summary>An operation context; precision control applies only to the basic arithmetic and FSQRT.</summary>
    private FloatContext NewContext(bool usePrecisionControl = false) =>
        new(RoundingControl, usePrecisionControl ? PrecisionControl : X87PrecisionControl.Extended, Masks);

    /// <summary>
    /// Status word after a stack fault (IE + SF; C1 = 1 for overflow, 0 for underflow). Pure, so a
    /// store can write its masked response to memory before the status is committed.
    /// </summary>
    private ushort StackFaultStatus(bool overflow)
    {
        var status = (ushort)(_status | (ushort)X87ExceptionFlags.Invalid | StatusSf);
        status = (ushort)(overflow ? status | StatusC1 : status & ~StatusC1);
        return WithSummary(status);
    }

    /// <summary>Records a stack underflow; true when IE is masked and the caller must deliver the masked response.</summary>
    private bool StackUnderflow()
    {
        _status = StackFaultStatus(false);
        return InvalidMasked;
    }

    /// <summary>Records a stack overflow; the masked response (pushing the indefinite) is done here.</summary>
    private void StackOverflow()
    {
        _status = StackFaultStatus(true);
        if (InvalidMasked)
        {
            Push(Float80.Indefinite);
        }
    }

    private ushort WithSummary(ushort status) =>
        (status & ~_control & (ushort)X87ExceptionFlags.All) != 0 ? (ushort)(status | StatusEs | StatusB) : status;

    /// <summary>
    /// The status word after an operation raised <paramref name="c"/>'s flags, and whether its result
    /// must be discarded (destination and stack untouched). Pre-computation exceptions (IE, then ZE,
    /// then DE) suppress the result when unmasked; a store with unmasked OE/UE is suppressed too and
    /// then reports neither C1 nor this operation's PE. C1 reports a round-up when PE is raised.
    /// </summary>
    private (ushort Status, bool Discard) ExceptionOutcome(in FloatContext c, bool isStore)
    {
        var raised = c.Flags;
        var unmasked = raised & ~Masks;
        var status = _status;
        if ((raised & X87ExceptionFlags.Invalid) != 0)
        {
            status |= (ushort)X87ExceptionFlags.Invalid;
            return (WithSummary(status), (unmasked & X87ExceptionFlags.Invalid) != 0);
        }

        if ((raised & X87ExceptionFlags.ZeroDivide) != 0)
        {
            status |= (ushort)(raised & (X87ExceptionFlags.ZeroDivide | X87ExceptionFlags.Denormal));
            return (WithSummary(status), (unmasked & (X87ExceptionFlags.ZeroDivide | X87ExceptionFlags.Denormal)) != 0);
        }

        if ((raised & X87ExceptionFlags.Denormal) != 0)
        {
            status |= (ushort)X87ExceptionFlags.Denormal;
            if ((unmasked & X87ExceptionFlags.Denormal) != 0)
            {
                return (WithSummary(status), true);
            }
        }

        var post = raised & (X87ExceptionFlags.Overflow | X87ExceptionFlags.Underflow | X87ExceptionFlags.Precision);
        if (isStore && (unmasked & (X87ExceptionFlags.Overflow | X87ExceptionFlags.Underflow)) != 0)
        {
            status |= (ushort)(post & ~X87ExceptionFlags.Precision);
            status &= unchecked((ushort)~StatusC1);
            return (WithSummary(status), true);
        }

        status |= (ushort)post;
        if ((post & X87ExceptionFlags.Precision) != 0)
        {
            status = (ushort)(c.RoundedUp ? status | StatusC1 : status & ~StatusC1);
        }

        return (WithSummary(status), false);
    }

    /// <summary>Commits an operation's exceptions; true when the result may be written.</summary>
    private bool Commit(in FloatContext c)
    {
        var (status, discard) = ExceptionOutcome(c, false);
        _status = status;
        return !discard;
    }

    private void SetConditionCodes(bool c3, bool c2, bool c1, bool c0)
    {
        var status = _status & ~ConditionMask;
        if (c3)
        {
            status |= StatusC3;
        }

        if (c2)
        {
            status |= StatusC2;
        }

        if (c1)
        {
            status |= StatusC1;
        }

        if (c0)
        {
            status |= StatusC0;
        }

        _status = (ushort)status;
    }
}
