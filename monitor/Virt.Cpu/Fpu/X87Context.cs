namespace Virt.Cpu.Fpu;

/// <summary>
/// What an x87 instruction needs from, and gives back to, the integer CPU. Filled by the
/// interpreter before <c>X87Fpu.Execute</c> and read back after it.
/// </summary>
public struct X87Context
{
    /// <summary>In: 32-bit operand size (selects FSAVE/FSTENV/FLDENV/FRSTOR layouts).</summary>
    public bool OperandSize32;
    /// <summary>In: protected mode (CR0.PE and not virtual-8086) selects the protected-mode environment layout.</summary>
    public bool ProtectedMode;
    /// <summary>In: CS selector and EIP of this instruction, and the memory operand's segment selector and offset (FIP/FCS/FDP/FDS).</summary>
    public ushort CodeSelector, DataSelector;
    public uint InstructionPointer, DataOffset;
    /// <summary>In/out: AX, for FNSTSW AX.</summary>
    public ushort Ax;
    /// <summary>In/out: EFLAGS. FCMOVcc reads CF/ZF/PF; FCOMI/FUCOMI write ZF/PF/CF and clear OF/SF/AF.</summary>
    public uint Eflags;
}
