namespace Virt.Cpu.Execution;

/// <summary>
/// Handlers of the compact pre-decoded form. The hot, simple forms of the common instructions get
/// their own handler so the interpreter's switch does the least work for them; everything else is
/// <see cref="Generic"/>, executed from Iced's decoded <c>Instruction</c> (reference semantics, cold code).
/// </summary>
internal enum Op : byte
{
    Generic,
    Nop,
    MovRR32, MovRI32, MovRM32, MovMR32, MovMI32,
    MovRM8, MovMR8, MovzxRM8, MovzxRR8, MovzxRM16,
    AluRR32, AluRI32, AluRM32, AluMR32, AluMI32,   // Sub: 0 add 1 or 2 adc 3 sbb 4 and 5 sub 6 xor 7 cmp 8 test
    AluRR8, AluRI8, AluRM8, AluMI8,
    IncR32, DecR32,
    PushR32, PopR32, PushI32,
    Lea32,
    Jcc, Jmp, Call32, Ret32,
    JmpR32, CallR32, JmpM32, CallM32,
    ShiftRI32,     // Sub: 4 shl 5 shr 7 sar
    ShiftRC32,     // by CL; Sub as ShiftRI32
    Setcc, Cmov32,
    XchgRR32,
    // The commonest ALU forms get a handler each: no second dispatch on the operation.
    AddRR32, SubRR32, CmpRR32, AndRR32, OrRR32, XorRR32, TestRR32,
    AddRI32, SubRI32, CmpRI32, AndRI32, OrRI32, XorRI32, TestRI32,
}
