using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// The state block native code works on, in unmanaged memory at a fixed address (host register
/// R14 points at it while a block runs). The managed side fills it before the call and reads it
/// after; native code never touches a managed object, so the call needs no GC transition.
/// Offsets are the ones the emitter uses (<see cref="NativeBlockCompiler"/>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 208)]
internal struct NativeFrame
{
    /// <summary>Guest EAX..EDI by encoding number: loaded into host registers at entry, stored at exit.</summary>
    [FieldOffset(0)] public unsafe fixed uint R[8];
    /// <summary>The six arithmetic flags (CF PF AF ZF SF OF) and bit 1: popped into RFLAGS at entry, pushed at exit.</summary>
    [FieldOffset(32)] public uint Eflags;
    /// <summary>Out: where the guest continues.</summary>
    [FieldOffset(40)] public uint NextEip;
    /// <summary>Out: ops completed in the block that left (the ones of the blocks linked before it: Budget - Remaining).</summary>
    [FieldOffset(44)] public int OpsDone;
    /// <summary>Out: which block left (NativeBlock.Id).</summary>
    [FieldOffset(48)] public int BlockId;
    /// <summary>Out: the linkable exit it left through (an index into NativeBlock.Sites), or -1.</summary>
    [FieldOffset(52)] public int ExitStub;
    /// <summary>Out: why the block left (<see cref="NativeExit"/>).</summary>
    [FieldOffset(56)] public int Exit;
    /// <summary>In: the current privilege's software TLB (read and write copies), pinned arrays of TlbEntry.</summary>
    [FieldOffset(64)] public nint TlbRead;
    [FieldOffset(72)] public nint TlbWrite;
    /// <summary>In: FS and GS bases (the other segments are flat with base 0 while native code runs).</summary>
    [FieldOffset(80)] public uint FsBase;
    [FieldOffset(84)] public uint GsBase;
    /// <summary>In: instructions the call may run (at least the entry block's). Kept in R9 while running, less each block's ops at its link.</summary>
    [FieldOffset(88)] public long Budget;
    /// <summary>Out: R9 at the exit. Budget - Remaining = the ops of the blocks completed and linked from (loops included).</summary>
    [FieldOffset(96)] public long Remaining;
    /// <summary>In: the indirect-branch table (<see cref="NativeJumpTable"/>), or an empty one when it may not be used.</summary>
    [FieldOffset(104)] public nint JumpTable;
    /// <summary>In: the table's current generation, shifted: part of every key.</summary>
    [FieldOffset(112)] public long JumpGeneration;
    /// <summary>
    /// In: the highest offset a 1-byte read or write through FS or GS may use (their limit), or -1
    /// when every access must go to the interpreter (not present, not readable/writable, expand-down).
    /// Native code checks FS and GS accesses itself, so a small segment (Linux's stack-protector GS)
    /// does not keep a block from running natively.
    /// </summary>
    [FieldOffset(120)] public long FsReadLimit;
    [FieldOffset(128)] public long FsWriteLimit;
    [FieldOffset(136)] public long GsReadLimit;
    [FieldOffset(144)] public long GsWriteLimit;
    /// <summary>In/out: EFLAGS without the arithmetic flags, IF, RF and VM (DF, TF, IOPL, NT, AC, ID, bit 1...): PUSHF and POPF read and write it.</summary>
    [FieldOffset(152)] public uint SysFlags;
    /// <summary>In/out: EFLAGS.IF as 0 or 1, so CLI and STI are one byte store.</summary>
    [FieldOffset(156)] public byte IfFlag;
    /// <summary>In: CLI and STI are allowed (CPL &lt;= IOPL); else they go to the interpreter, which raises #GP.</summary>
    [FieldOffset(157)] public byte IfWritable;
    /// <summary>In: CPL 0 in protected mode: POPF is inlined (otherwise the interpreter applies its privilege rules).</summary>
    [FieldOffset(158)] public byte Cpl0;
    /// <summary>Out: nonzero when an STI set IF (it was clear): the next instruction runs in its interrupt shadow.</summary>
    [FieldOffset(159)] public byte StiShadow;
    /// <summary>In/out: 1 while EFLAGS.DF is clear: string ops run natively only then (forward); POPFD keeps it current.</summary>
    [FieldOffset(160)] public byte DfClear;
    /// <summary>Scratch for native code (MOVS and CMPS keep the source element here while the destination is looked up).</summary>
    [FieldOffset(164)] public uint Scratch;
    /// <summary>In: 1 when RDTSC runs inline: the TSC is linear in instructions retired and RDTSC is allowed.</summary>
    [FieldOffset(161)] public byte TscInline;
    /// <summary>In: the TSC when the frame was loaded, and its ticks per instruction retired (NativeFrame.Budget - R9 instructions since).</summary>
    [FieldOffset(168)] public ulong TscBase;
    [FieldOffset(176)] public long TscPerInstruction;
    /// <summary>Scratch: the guest's RFLAGS, copied where inserted code clobbers them while the guest no longer reads them (a miss restores them from here).</summary>
    [FieldOffset(184)] public ulong GuestFlagsCopy;
    /// <summary>In: the placed call table's guest-physical page when hot calls may be inlined, else 0xFFFFFFFF (inlined hot calls check it at run time).</summary>
    [FieldOffset(192)] public uint CallTablePage;
    /// <summary>Out: nonzero when an inlined irq_enable_and_halt halted the VCPU (the dispatcher sets its halt).</summary>
    [FieldOffset(196)] public byte Halt;
    /// <summary>Out: hot call-table calls native code ran inline since the dispatcher last read (and zeroed) it.</summary>
    [FieldOffset(200)] public long InlinedCalls;

    public const int OffEflags = 32, OffNextEip = 40, OffOpsDone = 44, OffBlockId = 48, OffExitStub = 52,
        OffExit = 56, OffTlbRead = 64, OffTlbWrite = 72, OffFsBase = 80, OffGsBase = 84, OffBudget = 88, OffRemaining = 96, OffJumpTable = 104, OffJumpGeneration = 112,
        OffFsReadLimit = 120, OffFsWriteLimit = 128, OffGsReadLimit = 136, OffGsWriteLimit = 144,
        OffSysFlags = 152, OffIfFlag = 156, OffIfWritable = 157, OffCpl0 = 158, OffStiShadow = 159, OffDfClear = 160, OffScratch = 164,
        OffTscInline = 161, OffTscBase = 168, OffTscPerInstruction = 176, OffGuestFlagsCopy = 184,
        OffCallTablePage = 192, OffHalt = 196, OffInlinedCalls = 200;

    /// <summary>
    /// The page predictor's slots follow the frame in the same allocation, at R14 + OffPredictor:
    /// per memory operand (hashed by its EIP), the byte offset of the TLB entry its last access
    /// used (<see cref="NativeBlockCompiler"/>'s predicted lookup). Any value in range is safe: a
    /// prediction is checked against the entry's tag before it is used.
    /// </summary>
    public const int OffPredictor = 256, PredictorSlots = 4096, AllocationBytes = OffPredictor + 4 * PredictorSlots;
}

/// <summary>Why native code returned to the dispatcher.</summary>
internal enum NativeExit
{
    /// <summary>The block ended (branch, fall-through, or the budget ran out): NextEip holds where to go on.</summary>
    Done = 0,
    /// <summary>Op OpsDone needs the interpreter (TLB miss, page crossing, MMIO, a write to a code page): nothing of it ran.</summary>
    Interpret = 1,
    /// <summary>Op OpsDone is one the interpreter runs for native code, which goes on at the op's resume point.</summary>
    Handler = 2,
}
