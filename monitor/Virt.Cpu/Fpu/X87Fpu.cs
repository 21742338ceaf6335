using Iced.Intel;

namespace Virt.Cpu.Fpu;

/// <summary>
/// The x87 floating-point unit of one virtual CPU (a 387-compatible FPU as integrated since the
/// 486: 387+ operand rules, no 287 modes).
/// <para>
/// Caller contract. For every instruction decoded with an x87 opcode (D8-DF, or Iced's fused
/// FWAIT forms such as <see cref="Code.Finit"/>), the interpreter:
/// (1) raises #NM if CR0.EM or CR0.TS is set (for FWAIT alone: only if CR0.MP and CR0.TS);
/// (2) if <see cref="IsWaitingInstruction"/> is true and <see cref="HasPendingUnmaskedException"/>,
/// raises #MF when CR0.NE = 1 (the instruction is then not executed), otherwise signals FERR#
/// (IRQ 13 on a PC) and lets the instruction proceed, the usual model of the PC's FERR#/IGNNE# glue;
/// (3) resolves the memory operand (segment, limit, paging) and passes it as <c>memory</c>
/// (non-null exactly when the instruction has one) and fills <see cref="X87Context"/>;
/// (4) calls <see cref="Execute"/>, raising #UD when it returns <see cref="X87Outcome.InvalidOpcode"/>,
/// and writes back AX and EFLAGS from the context.
/// Plain FWAIT (<see cref="Code.Wait"/>) is the caller's: steps 1-2 only (Execute accepts it as a no-op).
/// Memory faults thrown by <see cref="IX87Memory"/> propagate out of Execute; loads read all their
/// memory before changing any state and stores write memory before committing state, so a faulting
/// instruction can be restarted.
/// </para>
/// <para>
/// Exceptions: masked responses follow SDM vol. 1 ch. 4 and 8. An unmasked exception sets the flag
/// and ES/B; the destination is left alone for IE/DE/ZE (and the stack is not popped), results of
/// unmasked OE/UE to a register are delivered with the exponent adjusted by ∓24576, and a memory
/// store with unmasked OE/UE is not performed. The #MF itself is the caller's, at the next
/// waiting instruction.
/// </para>
/// <para>
/// Tags are kept as empty/non-empty per physical register (what modern hardware stores); the full
/// tag word is computed from register contents when read, and only "empty" is taken from a loaded
/// tag word (FLDENV/FRSTOR/<see cref="TagWord"/> setter), as hardware does.
/// </para>
/// </summary>
public sealed partial class X87Fpu
{
    private const ushort StatusSf = 0x0040;
    private const ushort StatusEs = 0x0080;
    private const ushort StatusC0 = 0x0100;
    private const ushort StatusC1 = 0x0200;
    private const ushort StatusC2 = 0x0400;
    private const ushort StatusC3 = 0x4000;
    private const ushort StatusB = 0x8000;
    private const ushort StatusTopMask = 0x3800;
    private const ushort ConditionMask = StatusC0 | StatusC1 | StatusC2 | StatusC3;

    private readonly Float80[] _registers = new Float80[8];
    /// <summary>Bit i set: physical register i is empty.</summary>
    private int _emptyMask;
    private int _top;
    private ushort _control;
    /// <summary>Status word without the TOP field, which lives in <see cref="_top"/>.</summary>
    private ushort _status;

    public X87Fpu()
    {
        Reset();
    }

    /// <summary>Power-on/RESET state (SDM vol. 3 table 9-1): CW 0040h, SW 0, all registers +0 and tagged valid-zero.</summary>
    public void Reset()
    {
        Array.Clear(_registers);
        _emptyMask = 0;
        _top = 0;
        _control = 0x0040;
        _status = 0;
        ClearPointers();
    }

    /// <summary>FNINIT state: CW 037Fh, SW 0, all tags empty, pointers 0; register contents are kept.</summary>
    public void Init()
    {
        _emptyMask = 0xFF;
        _top = 0;
        _control = 0x037F;
        _status = 0;
        ClearPointers();
    }

    private void ClearPointers()
    {
        InstructionPointer = 0;
        CodeSelector = 0;
        DataPointer = 0;
        DataSelector = 0;
        LastOpcode = 0;
    }

    /// <summary>Control word; bit 6 always reads 1 and reserved bits 7, 13-15 read 0.</summary>
    public ushort ControlWord
    {
        get => _control;
        set
        {
            _control = (ushort)((value & 0x1F3F) | 0x0040);
            RecomputeSummary();
        }
    }

    /// <summary>Status word including TOP (bits 13-11).</summary>
    public ushort StatusWord
    {
        get => (ushort)((_status & ~StatusTopMask) | (_top << 11));
        set
        {
            _top = (value >> 11) & 7;
            _status = (ushort)(value & ~StatusTopMask);
        }
    }

    /// <summary>Full tag word computed from the registers; setting it only marks registers empty (11) or not.</summary>
    public ushort TagWord
    {
        get
        {
            var tags = 0;
            for (var i = 0; i < 8; i++)
            {
                tags |= (int)GetTag(i) << (2 * i);
            }

            return (ushort)tags;
        }

        set
        {
            _emptyMask = 0;
            for (var i = 0; i < 8; i++)
            {
                if (((value >> (2 * i)) & 3) == 3)
                {
                    _emptyMask |= 1 << i;
                }
            }
        }
    }

    /// <summary>The abridged (FXSAVE-style) tag: bit i set when physical register i is non-empty.</summary>
    public byte AbridgedTagWord
    {
        get => (byte)(~_emptyMask & 0xFF);
        set => _emptyMask = ~value & 0xFF;
    }

    public int Top => _top;

    /// <summary>FIP: offset of the last non-control x87 instruction (a linear address after FLDENV/FRSTOR in real mode).</summary>
    public uint InstructionPointer { get; set; }
    /// <summary>FCS: its code selector.</summary>
    public ushort CodeSelector { get; set; }
    /// <summary>FDP: offset of its memory operand.</summary>
    public uint DataPointer { get; set; }
    /// <summary>FDS: selector of its memory operand.</summary>
    public ushort DataSelector { get; set; }
    /// <summary>FOP: 11-bit last opcode (low 3 bits of the first opcode byte, then the ModR/M byte).</summary>
    public ushort LastOpcode { get; set; }

    public X87RoundingControl RoundingControl => (X87RoundingControl)((_control >> 10) & 3);
    public X87PrecisionControl PrecisionControl => (X87PrecisionControl)((_control >> 8) & 3);

    /// <summary>ES: an exception flag is set whose mask bit is clear; a waiting instruction must raise #MF / FERR# first.</summary>
    public bool HasPendingUnmaskedException => (_status & StatusEs) != 0;

    /// <summary>Physical register <paramref name="index"/> (0-7), whatever its tag.</summary>
    public Float80 GetPhysicalRegister(int index) => _registers[index & 7];

    /// <summary>Writes physical register <paramref name="index"/> without changing its tag.</summary>
    public void SetPhysicalRegister(int index, Float80 value) => _registers[index & 7] = value;

    /// <summary>ST(i), whatever its tag.</summary>
    public Float80 GetStackRegister(int i) => _registers[(_top + i) & 7];

    public bool IsStackRegisterEmpty(int i) => (_emptyMask & (1 << ((_top + i) & 7))) != 0;

    /// <summary>Tag of physical register <paramref name="index"/> as FSTENV would report it.</summary>
    public X87Tag GetTag(int index)
    {
        index &= 7;
        if ((_emptyMask & (1 << index)) != 0)
        {
            return X87Tag.Empty;
        }

        var value = _registers[index];
        if (value.IsZero)
        {
            return X87Tag.Zero;
        }

        return value.Exponent == 0 || value.Exponent == Float80.MaxExponent || value.IsUnsupported ? X87Tag.Special : X87Tag.Valid;
    }

    /// <summary>
    /// False for the no-wait control instructions (FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE,
    /// and the 8087/287 FNENI/FNDISI/FNSETPM) that run without checking for pending exceptions; true
    /// for every other x87 instruction, including Iced's fused FWAIT forms (FINIT, FCLEX, FSTCW, FSTSW,
    /// FSTENV, FSAVE, ...) whose FWAIT part checks.
    /// </summary>
    public static bool IsWaitingInstruction(Code code) => code switch
    {
        Code.Fninit or Code.Fnclex or Code.Fnstcw_m2byte or Code.Fnstsw_m2byte or Code.Fnstsw_AX
            or Code.Fnstenv_m14byte or Code.Fnstenv_m28byte or Code.Fnsave_m94byte or Code.Fnsave_m108byte
            or Code.Fneni or Code.Fndisi or Code.Fnsetpm => false,
        _ => true,
    };

    private void RecomputeSummary()
    {
        if ((_status & ~_control & (ushort)X87ExceptionFlags.All) != 0)
        {
            _status |= StatusEs | StatusB;
        }
        else
        {
            _status &= unchecked((ushort)~(StatusEs | StatusB));
        }
    }
}
