using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// The native backend (plex86's second-generation code monitor): a block of 32-bit guest code
/// becomes x86-64 host code in which most instructions are the guest's own, copied 1:1.
/// <list type="bullet">
/// <item>Registers: guest EAX, ECX, EDX, EBX, EBP, ESI, EDI live in the same host registers; guest
/// ESP lives in R15D (the host keeps RSP). R14 points at the <see cref="NativeFrame"/>; R8-R13 are
/// scratch. Instructions are re-encoded for 64-bit mode with ESP renamed, so the host instruction
/// computes the guest's result and its arithmetic flags itself: no lazy-flag bookkeeping.</item>
/// <item>Flags: the guest's six arithmetic flags live in RFLAGS for the whole block (popped at entry,
/// pushed at exit). Inserted code (TLB lookups, limit checks, link counts) either leaves RFLAGS
/// alone (BMI2 shifts, NOT+LEA, JRCXZ) or is preceded by PUSHFQ, as a backward liveness pass
/// decides (<see cref="Emitter"/>'s Guarded).</item>
/// <item>Memory: the operand's linear address is computed with a 32-bit LEA (it wraps as the
/// guest's does), FS/GS limits checked and bases added, then looked up inline in the software TLB
/// (the interpreter's own pinned arrays). The guest instruction then runs with its operand
/// rewritten to [R13]. A miss leaves the block before the instruction with
/// <see cref="NativeExit.Interpret"/>: the dispatcher runs that one instruction through the
/// reference executor, which fills the TLB or raises the fault precisely (CR2, error code, EIP).</item>
/// <item>PUSH, POP, LEAVE, CALL, RET, near branches, the string ops, CLI/STI/PUSHFD/POPFD and RDTSC
/// are emitted explicitly. EIPs are constants: a block is compiled for the linear address it first
/// ran at and entered only there (CS base 0, so linear = EIP).</item>
/// <item>Chaining (QEMU's goto_tb, DynamoRIO's linked blocks): a direct branch or fall-through to a
/// target in the same guest page ends in a patchable JMP rel32, first aimed at the block's own exit;
/// once the target has native code the dispatcher patches the JMP to the target's chain entry
/// (<see cref="NativeBlock.ChainEntry"/>, past its prologue). Same page means the same physical page
/// for the same linear page, and a write to the page drops both blocks at once, so no link outlives
/// its target. A branch back to the block's own start is linked from the start. Other branches go
/// through the <see cref="NativeJumpTable"/>. Every link takes the block's ops off the budget in R9
/// without touching the flags, so native code returns to the dispatcher within its budget: the
/// interrupts, stop requests and the GC are served there.</item>
/// <item>Any other instruction that does not transfer control runs in the interpreter's handler
/// (<see cref="NativeExit.Handler"/>), and native code resumes after it. The block covers its
/// longest prefix of such instructions; one that transfers control otherwise (INT, IRET, far
/// jumps...) ends the native code and is left to the interpreter.</item>
/// </list>
/// </summary>
internal static class NativeBlockCompiler
{
    private const RflagsBits ArithFlags = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;

    /// <summary>Compiled code: its entry points, the ops it covers, its link sites.</summary>
    internal sealed unsafe class NativeBlock(Block block, byte* entry, byte* chainEntry, int covered,
        uint linearStart, int id, ChainSite[] sites, int[] resumeOffsets)
    {
        /// <summary>Where native code goes on after an op the interpreter ran for it (NativeExit.Handler), by op index (0: none).</summary>
        public readonly nint[] Resume = Array.ConvertAll(resumeOffsets, o => o < 0 ? 0 : (nint)(entry + o));
        public readonly Block Block = block;
        public readonly byte* Entry = entry;
        /// <summary>Where a link from another block jumps: past the prologue (state already in host registers).</summary>
        public readonly byte* ChainEntry = chainEntry;
        public readonly int Covered = covered;
        /// <summary>The linear (= EIP, CS base 0) address the block was compiled for; its EIPs are constants.</summary>
        public readonly uint LinearStart = linearStart;
        /// <summary>Written into the frame by the block's exits, so the dispatcher knows which block left.</summary>
        public readonly int Id = id;
        /// <summary>The patchable links: by exit-stub number (NativeFrame.ExitStub).</summary>
        public readonly ChainSite[] Sites = sites;
        /// <summary>Sites already linked (a link-countdown exit leaves through a linked site too).</summary>
        public readonly bool[] Linked = new bool[sites.Length];
    }

    /// <summary>A direct exit that can be linked: the JMP rel32 to patch (its byte offset in the code) and its target EIP.</summary>
    internal readonly record struct ChainSite(int PatchOffset, uint Target);

    /// <summary>Assembled but not yet placed: the code and what it covers; the block id's imm32 at <paramref name="BlockIdOffset"/>.</summary>
    internal readonly record struct Emitted(byte[] Code, int Covered, int ChainEntryOffset, ChainSite[] Sites, int[] ResumeOffsets, int BlockIdOffset);

    /// <summary>
    /// Cpu._fastSegMask bits every native block relies on, checked when the dispatcher enters one:
    /// ES, SS and DS readable and writable without limit checks, and a 32-bit stack (FS and GS are
    /// checked inline; CS for base 0 and a 4 GiB limit). The same for every block, so a link or a
    /// jump-table entry needs no check of its own.
    /// </summary>
    internal const int FlatSegments = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 10) | (1 << 11) | Cpu.FastStack32;

    /// <summary>
    /// Emits host code for b, running at linear address <paramref name="linearStart"/>; null when
    /// not even its first op can be copied. The code is position-independent (every branch inside
    /// it is relative, every other target is read from memory), so it may be emitted on any thread
    /// and placed anywhere; its block id is patched in when it is placed (<see cref="Emitted.BlockIdOffset"/>).
    /// Touches nothing but b's decoded instructions, which never change.
    /// </summary>
    /// <param name="hotEntry">The hot call-table entry (<see cref="Paravirt.VirtCall"/>) the block's last op, a CALL rel32, aims at and may
    /// run inline (<see cref="Emitter"/>'s HotCall), or -1: the call is made.</param>
    /// <param name="predict">Copied instructions' operands through the page predictor (<see cref="Emitter"/>'s PredictedLookup); off: the plain lookup.</param>
    public static Emitted? Emit(Block b, uint linearStart, bool flagless, int hotEntry = -1, bool predict = true)
    {
        const ulong rip = 0;
        if (!b.Code32) return null;
        Instruction[] ins = b.Instructions;
        int covered = 0;
        // Whether each op is copied or emitted (else a handler runs it): decided once, since deciding
        // may mean encoding the op for the host.
        var copied = new bool[ins.Length];
        while (covered < ins.Length && ((copied[covered] = Copied(in ins[covered])) || ByHandler(in ins[covered]))) covered++;
        if (covered == 0) return null;
        bool whole = covered == ins.Length;

        var live = new bool[covered + 1];
        live[covered] = true; // leaving the block: every flag is the guest's to read
        for (int i = covered - 1; i >= 0; i--)
        {
            RflagsBits read = ins[i].RflagsRead & ArithFlags, modified = ins[i].RflagsModified & ArithFlags;
            // A shift or rotate by CL leaves every flag alone when the count is 0: the flags before it may survive it.
            if (CountInCl(in ins[i])) read = ArithFlags;
            // So does a REP SCAS or CMPS whose count is 0.
            if ((ins[i].HasRepPrefix || ins[i].HasRepnePrefix) && StringOp(in ins[i]) != 0) read = ArithFlags;
            // An op the interpreter runs gets the flags through the frame (saved at its exit).
            if (!copied[i]) { read = ArithFlags; modified = 0; }
            live[i] = read != 0 || (live[i + 1] && (modified != ArithFlags));
        }

        var a = new Assembler(64) { PreferShortBranch = false };
        var e = new Emitter(a, b, live, copied, linearStart, whole, flagless, whole ? hotEntry : -1, predict);
        e.Prologue();
        for (int i = 0; i < covered; i++) e.Op(i);
        if (!(whole && (IsBlockEndBranch(in ins[covered - 1]) || ins[covered - 1].Mnemonic is Mnemonic.Sti or Mnemonic.Popfd)))
        {
            // Fall through: to the next block (linkable) or to the first op left to the interpreter.
            if (whole) e.Link(covered, e.Offset(covered));
            else e.ExitAt(covered, covered);
        }
        e.Epilogue();
        var stream = new MemoryStream(512);
        // DontFixBranches keeps every JMP in its rel32 form (PreferShortBranch is off), so each link site is patchable.
        AssemblerResult result = a.Assemble(new StreamCodeWriter(stream), rip, BlockEncoderOptions.ReturnNewInstructionOffsets | BlockEncoderOptions.DontFixBranches);
        byte[] code = stream.ToArray();
        var sites = new List<ChainSite>();
        foreach (var (after, target) in e.LinkSites)
        {
            int at = (int)(result.GetLabelRIP(after) - rip) - 4;
            // Only a JMP rel32 can be patched to any target in the code cache.
            sites.Add(code[at - 1] == 0xE9 ? new ChainSite(at, target) : new ChainSite(-1, target));
        }
        int chainEntry = (int)(result.GetLabelRIP(e.LoopHead) - rip);
        var resumes = new int[ins.Length];
        for (int i = 0; i < resumes.Length; i++)
            resumes[i] = e.Resumes.TryGetValue(i, out Label l) ? (int)(result.GetLabelRIP(l) - rip) : -1;
        int blockIdOffset = (int)(result.GetLabelRIP(e.BlockIdEnd) - rip) - 4;
        return new Emitted(code, covered, chainEntry, sites.ToArray(), resumes, blockIdOffset);
    }

    /// <summary>Copied 1:1 or emitted explicitly.</summary>
    private static bool Copied(in Instruction i) => Supported(in i) && Encodable(in i);

    /// <summary>
    /// Left to the interpreter's handler for that one instruction, with native code going on after
    /// it (plex86's direct handler calls): anything that does not transfer control. The native code
    /// leaves with <see cref="NativeExit.Handler"/>, the dispatcher runs the op and re-enters at the
    /// op's resume point, so nothing is reconstructed and no block is looked up.
    /// </summary>
    private static bool ByHandler(in Instruction i) => i.FlowControl == FlowControl.Next || i.Mnemonic == Mnemonic.Vmcall;

    /// <summary>
    /// Whether the host can encode the rewritten copy (an AH..BH operand cannot sit beside the REX
    /// prefix R13 or R15 need). Explicitly emitted forms are always encodable, but DIV and IDIV,
    /// whose emitted checks end in the host's division of the rewritten operand.
    /// </summary>
    private static bool Encodable(in Instruction i)
    {
        if (OperationTable.Of(i.Mnemonic).Native == NativeForm.Emitted && i.Mnemonic is not (Mnemonic.Div or Mnemonic.Idiv))
            return true;
        Instruction copy = Rewrite(in i, folded: true);
        return (s_probe ??= Encoder.Create(64, new StreamCodeWriter(Stream.Null))).TryEncode(copy, 0, out _, out _);
    }

    // One encoder per compiling thread for the encodability probe (creating one per instruction showed in the compile's profile).
    [ThreadStatic] private static Encoder? s_probe;

    private static Register Map(Register r) => r switch
    {
        Register.ESP => Register.R15D,
        Register.SP => Register.R15W,
        _ => r,
    };

    /// <summary>
    /// The guest instruction as the host runs it: ESP renamed, a memory operand at [R13] (the host
    /// address), or with <paramref name="folded"/> at [R12+R13] (the linear address plus the TLB
    /// entry's addend: the lookup's last LEA folded into the operand).
    /// </summary>
    private static Instruction Rewrite(in Instruction ins, bool folded = false)
    {
        Instruction copy = ins;
        copy.IP = 0;
        copy.Code = Widen(copy.Code);
        for (int k = 0; k < copy.OpCount; k++)
            if (copy.GetOpKind(k) == OpKind.Register) copy.SetOpRegister(k, Map(copy.GetOpRegister(k)));
        if (ins.Mnemonic == Mnemonic.Lea)
        {
            // LEA computes the offset only; a 32-bit address size keeps the guest's wrap.
            copy.MemoryBase = Map(copy.MemoryBase);
            copy.MemoryIndex = Map(copy.MemoryIndex);
            copy.SegmentPrefix = Register.None;
        }
        else if (HasMemory(in ins))
        {
            copy.MemoryBase = Register.R13;
            copy.MemoryIndex = folded ? Register.R12 : Register.None;
            copy.MemoryIndexScale = 1;
            copy.MemoryDisplacement64 = 0;
            copy.MemoryDisplSize = 0;
            copy.SegmentPrefix = Register.None;
        }
        return copy;
    }

    private static bool HasMemory(in Instruction ins)
    {
        for (int k = 0; k < ins.OpCount; k++) if (ins.GetOpKind(k) == OpKind.Memory) return true;
        return false;
    }

    /// <summary>32-bit-only encodings become their 64-bit-mode equivalents (same operands).</summary>
    private static Code Widen(Code c) => c switch
    {
        Code.Mov_AL_moffs8 => Code.Mov_r8_rm8,
        Code.Mov_AX_moffs16 => Code.Mov_r16_rm16,
        Code.Mov_EAX_moffs32 => Code.Mov_r32_rm32,
        Code.Mov_moffs8_AL => Code.Mov_rm8_r8,
        Code.Mov_moffs16_AX => Code.Mov_rm16_r16,
        Code.Mov_moffs32_EAX => Code.Mov_rm32_r32,
        Code.Inc_r32 => Code.Inc_rm32,
        Code.Dec_r32 => Code.Dec_rm32,
        Code.Inc_r16 => Code.Inc_rm16,
        Code.Dec_r16 => Code.Dec_rm16,
        _ => c,
    };

    /// <summary>
    /// The element size of a string op native code runs (LODS, STOS, MOVS, SCAS, CMPS with 32-bit
    /// addressing, REP forms included), else 0. INS/OUTS go to the handlers (they are I/O).
    /// </summary>
    internal static int StringOp(in Instruction i)
    {
        int size = i.Mnemonic switch
        {
            Mnemonic.Lodsb or Mnemonic.Stosb or Mnemonic.Movsb or Mnemonic.Scasb or Mnemonic.Cmpsb => 1,
            Mnemonic.Lodsw or Mnemonic.Stosw or Mnemonic.Movsw or Mnemonic.Scasw or Mnemonic.Cmpsw => 2,
            Mnemonic.Lodsd or Mnemonic.Stosd or Mnemonic.Movsd or Mnemonic.Scasd or Mnemonic.Cmpsd => 4,
            _ => 0,
        };
        if (size == 0) return 0;
        for (int k = 0; k < i.OpCount; k++)
            if (i.GetOpKind(k) is OpKind.MemorySegSI or OpKind.MemoryESDI or OpKind.MemorySegDI) return 0; // 16-bit addressing
        if (i.Mnemonic is Mnemonic.Movsd or Mnemonic.Cmpsd && i.OpCount != 2) return 0; // the SSE forms share the names
        if (i.MemorySegment == Register.CS) return 0; // a CS source: the interpreter checks readability
        return size;
    }

    private static bool CountInCl(in Instruction i) =>
        i.Mnemonic is Mnemonic.Shl or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr
            or Mnemonic.Shld or Mnemonic.Shrd
        && i.GetOpKind(i.OpCount - 1) == OpKind.Register && i.GetOpRegister(i.OpCount - 1) == Register.CL;

    private static bool IsBlockEndBranch(in Instruction i) =>
        i.FlowControl is FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch or FlowControl.Call or FlowControl.Return
            or FlowControl.IndirectBranch or FlowControl.IndirectCall
        && i.Mnemonic != Mnemonic.Vmcall; // a hypercall (Iced calls it a call) returns to the next instruction

    /// <summary>
    /// Guest instructions the backend copies or emits: the operation's row in
    /// <see cref="OperationTable"/>, in an operand form the backend handles. Anything else is the
    /// interpreter's.
    /// </summary>
    private static bool Supported(in Instruction i)
    {
        Operation operation = OperationTable.Of(i.Mnemonic);
        if (operation.Native == NativeForm.Handler) return false;
        if (StringOp(in i) != 0) return true;
        if ((i.HasRepPrefix || i.HasRepnePrefix) && i.Mnemonic != Mnemonic.Pause) return false;
        for (int k = 0; k < i.OpCount; k++)
        {
            switch (i.GetOpKind(k))
            {
                case OpKind.Register:
                    if (!i.GetOpRegister(k).IsGPR()) return false;
                    break;
                case OpKind.Memory:
                    // Through CS: execute-only segments and writes must fault; the interpreter checks those.
                    if (i.MemorySegment == Register.CS) return false;
                    if (i.MemoryBase != Register.None && !i.MemoryBase.IsGPR32()) return false;
                    if (i.MemoryIndex != Register.None && !i.MemoryIndex.IsGPR32()) return false;
                    if (i.Mnemonic != Mnemonic.Lea && i.MemorySize.GetSize() is not (1 or 2 or 4) && i.Mnemonic != Mnemonic.Cmpxchg8b) return false;
                    break;
                case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16 or OpKind.Immediate8to32:
                    break;
                case OpKind.NearBranch32:
                    break;
                default:
                    return false;
            }
        }
        if (operation.Native == NativeForm.Copied)
        {
            // BT* with a register bit offset: a memory operand reaches beyond the addressed dword.
            return i.Mnemonic is not (Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc)
                || i.Op0Kind != OpKind.Memory || i.Op1Kind != OpKind.Register;
        }
        // Emitted: the forms the emitter has.
        switch (i.Mnemonic)
        {
            case Mnemonic.Push:
                return i.OpCount == 1 && i.Op0Kind is OpKind.Register or OpKind.Immediate8to32 or OpKind.Immediate32 or OpKind.Memory
                    && i.StackPointerIncrement == -4;
            case Mnemonic.Pop:
                return i.OpCount == 1 && (i.Op0Kind == OpKind.Register && i.Op0Register.IsGPR32()
                    || i.Op0Kind == OpKind.Memory && i.StackPointerIncrement == 4 && i.MemoryBase != Register.ESP && i.MemoryIndex != Register.ESP);
            case Mnemonic.Div:
                // The 8-bit check compares AH through a REX register: no AH..BH divisor beside it.
                return i.Op0Kind == OpKind.Memory || !(i.Op0Register is Register.AH or Register.CH or Register.DH or Register.BH);
            case Mnemonic.Idiv:
                // The divisor is sign-extended into R10: no AH..BH beside that REX register.
                return i.Op0Kind == OpKind.Memory || !(i.Op0Register is Register.AH or Register.CH or Register.DH or Register.BH);
            case Mnemonic.Leave:
                return i.Code == Code.Leaved;
            case Mnemonic.Cli or Mnemonic.Sti or Mnemonic.Popfd or Mnemonic.Rdtsc or Mnemonic.Pause:
                return true;
            case Mnemonic.Pushfd:
                return HostFlags.PushfInlinable;
            case Mnemonic.Call:
                return i.Code is Code.Call_rel32_32 or Code.Call_rm32 && i.Op0Kind is OpKind.NearBranch32 or OpKind.Register;
            case Mnemonic.Ret:
                return i.Code is Code.Retnd or Code.Retnd_imm16;
            case Mnemonic.Jmp:
                return i.Code is Code.Jmp_rel8_32 or Code.Jmp_rel32_32 or Code.Jmp_rm32 && i.Op0Kind is OpKind.NearBranch32 or OpKind.Register;
            default:
                if (i.Code.IsJccShortOrNear()) return i.Op0Kind == OpKind.NearBranch32;
                return false; // a string mnemonic in a form StringOp declines (16-bit addressing, a CS source, SSE's MOVSD/CMPSD)
        }
    }

    /// <summary>The emission of one block: the ops in order, then the exit stubs.</summary>
    private sealed class Emitter(Assembler a, Block b, bool[] live, bool[] copied, uint linearStart, bool whole, bool flagless, int hotEntry, bool predict)
    {
        private readonly List<Action> _stubs = new();
        private Label _loopHead, _epilogue, _blockIdEnd;

        /// <summary>Just past the epilogue's MOV of the block id: its imm32 is the 4 bytes before.</summary>
        public Label BlockIdEnd => _blockIdEnd;

        /// <summary>Per linkable exit: the label just after its JMP rel32, and the target EIP.</summary>
        public List<(Label After, uint Target)> LinkSites { get; } = new();

        /// <summary>The resume points after ops the interpreter runs, by op index.</summary>
        public Dictionary<int, Label> Resumes { get; } = new();

        public Label LoopHead => _loopHead;

        /// <summary>Byte offset of op <paramref name="op"/> from the block's start (the block's length past its last op).</summary>
        public uint Offset(int op) => b.OffsetOf(op);

        private static readonly AssemblerRegister32[] s_guest = [eax, ecx, edx, ebx, r15d, ebp, esi, edi];

        public void Prologue()
        {
            _loopHead = a.CreateLabel();
            _epilogue = a.CreateLabel();
            _blockIdEnd = a.CreateLabel();
            _afterEntryCopy = a.CreateLabel();
            Enter(NativeFrame.OffBudget);
            a.Label(ref _loopHead);
            if (_entryCopy)
            {
                CopyFlags();
                _flagsCopied = true;
                a.Label(ref _afterEntryCopy);
            }
        }

        private Label _afterEntryCopy;

        /// <summary>
        /// A loop back to the block's start counts its budget with SUB/CMP (cheaper than the
        /// flagless count) when that is exact: the guest's flags are dead at the start and the ops
        /// before the first that writes all six flags leave only through their guarded lookups, whose
        /// misses restore the flags from the frame's copy, and touch no flag (but a register INC or
        /// DEC after the last of those lookups, with no exit of its own). That copy is then
        /// made at the start (<see cref="Prologue"/>) and again before the count, and the budget
        /// exit restores from it, so every exit sees the guest's flags, as a fault's EFLAGS image must.
        /// </summary>
        private readonly bool _entryCopy = EntryCopyPays(b, live, copied, whole);

        private static bool EntryCopyPays(Block b, bool[] live, bool[] copied, bool whole)
        {
            Instruction[] ins = b.Instructions;
            if (!whole || live[0]) return false;
            ref readonly Instruction last = ref ins[^1];
            if (!(last.Code.IsJccShortOrNear() || last.Code is Code.Jmp_rel8_32 or Code.Jmp_rel32_32) || last.NearBranch32 != 0) return false;
            // Partly written flags (INC, DEC: CF kept) hold some of the count's: no access may follow then.
            bool guarded = false, partly = false;
            for (int j = 0; j < ins.Length; j++)
            {
                RflagsBits modified = ins[j].RflagsModified & ArithFlags;
                if (!copied[j]) return false;
                if (modified == ArithFlags) return guarded;
                bool access = ins[j].Mnemonic != Mnemonic.Lea && HasMemory(in ins[j]) || ins[j].Mnemonic is Mnemonic.Push or Mnemonic.Pop or Mnemonic.Leave;
                if (modified != 0)
                {
                    // Only the plain register forms: no exit of their own.
                    if (access || ins[j].Mnemonic is not (Mnemonic.Inc or Mnemonic.Dec)) return false;
                    partly = true;
                    continue;
                }
                if (ins[j].Mnemonic is not (Mnemonic.Mov or Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Lea or Mnemonic.Xchg or Mnemonic.Bswap
                    or Mnemonic.Cdq or Mnemonic.Cwde or Mnemonic.Cbw or Mnemonic.Cwd or Mnemonic.Nop or Mnemonic.Not or Mnemonic.Push or Mnemonic.Pop or Mnemonic.Leave))
                    return false;
                if (access)
                {
                    if (partly) return false;
                    guarded = true;
                }
            }
            return false;
        }

        /// <summary>An entry from the dispatcher: save the host's registers, load the guest's; R9 from the given frame field.</summary>
        private void Enter(int countdown)
        {
            a.push(rbx); a.push(rbp); a.push(r12); a.push(r13); a.push(r14); a.push(r15);
            a.mov(r14, rdi);
            a.mov(r9, __qword_ptr[r14 + countdown]);
            for (int r = 0; r < 8; r++) a.mov(s_guest[r], __dword_ptr[r14 + 4 * r]);
            a.mov(r11d, __dword_ptr[r14 + NativeFrame.OffEflags]);
            a.push(r11);
            a.popfq();
        }

        /// <summary>
        /// Op i runs in the interpreter: leave with NativeExit.Handler (EIP = the op, OpsDone = i),
        /// then a resume point where the dispatcher re-enters with the state it left in the frame,
        /// and the countdown where this call left it.
        /// </summary>
        private void ByHandler(int i)
        {
            ExitAt(i, i, NativeExit.Handler);
            Label resume = a.CreateLabel();
            a.Label(ref resume);
            Resumes[i] = resume;
            Enter(NativeFrame.OffRemaining);
        }

        public void Epilogue()
        {
            foreach (Action s in _stubs) s();
            a.Label(ref _epilogue);
            // r8d holds NextEip; the stub stored OpsDone, Exit and ExitStub. Every block's epilogue
            // undoes the same prologue, so a chain may end in any block.
            a.pushfq();
            a.pop(r11);
            a.mov(__dword_ptr[r14 + NativeFrame.OffEflags], r11d);
            a.mov(__dword_ptr[r14 + NativeFrame.OffNextEip], r8d);
            a.mov(__dword_ptr[r14 + NativeFrame.OffBlockId], 0); // imm32 patched to the block's id when placed
            a.Label(ref _blockIdEnd);
            a.mov(__qword_ptr[r14 + NativeFrame.OffRemaining], r9); // Budget - Remaining: the ops of the blocks linked from
            for (int r = 0; r < 8; r++) a.mov(__dword_ptr[r14 + 4 * r], s_guest[r]);
            a.pop(r15); a.pop(r14); a.pop(r13); a.pop(r12); a.pop(rbp); a.pop(rbx);
            a.ret();
        }

        /// <summary>Leaves with NextEip = the EIP of op <paramref name="opIndex"/> after <paramref name="opsDone"/> ops of this block.</summary>
        public void ExitAt(int opIndex, int opsDone, NativeExit why = NativeExit.Done)
        {
            a.mov(r8d, (int)(linearStart + Offset(opIndex)));
            ExitWithEip(opsDone, why);
        }

        /// <summary>Leaves with NextEip already in r8d.</summary>
        private void ExitWithEip(int opsDone, NativeExit why = NativeExit.Done, int stub = -1)
        {
            a.mov(__dword_ptr[r14 + NativeFrame.OffOpsDone], opsDone);
            a.mov(__dword_ptr[r14 + NativeFrame.OffExit], (int)why);
            a.mov(__dword_ptr[r14 + NativeFrame.OffExitStub], stub);
            a.jmp(_epilogue);
        }

        /// <summary>
        /// A direct exit to <paramref name="targetOffset"/> (from the block's start) after all the
        /// block's ops: linked to the target's native code when it is on the same page, else a plain
        /// exit. Touches no flags until the exit itself.
        /// </summary>
        public void Link(int opsDone, uint targetOffset)
        {
            uint target = linearStart + targetOffset;
            bool samePage = (target >> 12) == (linearStart >> 12) && whole;
            if (!samePage)
            {
                a.mov(r8d, (int)target);
                Dispatch(opsDone);
                return;
            }
            Label exit = a.CreateLabel();
            if (targetOffset == 0 && _entryCopy)
            {
                // A loop whose body sets the flags before it reads them: the count may clobber them,
                // with the copy made first (see _entryCopy).
                CopyFlags();
                a.sub(r9, opsDone);
                a.cmp(r9, Cpu.MaxBlockOps);
                a.jae(_afterEntryCopy);
                a.Label(ref exit);
                FlagsFromCopy();
                a.mov(r8d, (int)target);
                ExitWithEip(0);
                return;
            }
            Countdown(opsDone, exit);
            if (targetOffset == 0) a.jmp(_loopHead); // the block's own start: linked from the beginning
            else a.jmp(exit);                          // patched to the target's chain entry once it has one
            // The label of the next instruction marks the end of the JMP rel32 (its patch site). Label is
            // a struct that learns its position in Label(ref): record it after.
            a.Label(ref exit);
            int stub = LinkSites.Count;
            if (targetOffset != 0) LinkSites.Add((exit, target));
            a.mov(r8d, (int)target);
            ExitWithEip(0, NativeExit.Done, targetOffset != 0 ? stub : -1); // the ops are counted by the countdown
        }

        /// <summary>
        /// The budget at a link: R9 holds the instructions the call may still run; the block's ops
        /// come off, and the call goes on only while a whole block (at most Cpu.MaxBlockOps ops)
        /// still fits, else to <paramref name="exit"/>. Flagless: the sign of R9 - MaxBlockOps is
        /// brought to the low byte by BSWAP and tested with JRCXZ.
        /// </summary>
        private void Countdown(int opsDone, Label exit)
        {
            a.lea(r9, __[r9 - opsDone]);
            a.lea(r10, __[r9 - Cpu.MaxBlockOps]);
            a.bswap(r10);
            a.movzx(r10d, r10b);                              // 0: room for another block; 0xFF: none
            JumpUnlessZero(r10, exit);
        }

        // Flagless tests of a scratch register against zero: JRCXZ is the only branch that reads no
        // flag, so the value visits RCX (the guest's ECX) for the length of one XCHG.

        /// <summary>Jumps to <paramref name="target"/> when <paramref name="reg"/> is not zero; falls through on zero.</summary>
        private void JumpUnlessZero(AssemblerRegister64 reg, Label target)
        {
            Label zero = a.CreateLabel();
            a.xchg(rcx, reg);
            a.jrcxz(zero);
            a.xchg(rcx, reg);
            a.jmp(target);
            a.Label(ref zero);
            a.xchg(rcx, reg);
        }

        /// <summary>Jumps to <paramref name="target"/> (any distance) when <paramref name="reg"/> is zero; falls through otherwise.</summary>
        private void JumpIfZero(AssemblerRegister64 reg, Label target)
        {
            Label next = a.CreateLabel();
            JumpUnlessZero(reg, next);
            a.jmp(target);
            a.Label(ref next);
        }

        /// <summary>
        /// An exit to the EIP in r8d that another page's code or an indirect branch decides: counts
        /// the block's ops and a link, then looks the EIP up in the jump table and jumps to that
        /// block's chain entry on a hit; a miss (or the countdown at zero) returns to the dispatcher.
        /// No flags are touched before the exit itself.
        /// </summary>
        private void Dispatch(int opsDone)
        {
            Label exit = a.CreateLabel();
            Countdown(opsDone, exit);
            a.movzx(r10d, r8w);                               // index: the EIP's low 16 bits
            a.lea(r10, __[r10 + r10]);
            a.mov(r11, __qword_ptr[r14 + NativeFrame.OffJumpTable]);
            a.lea(r10, __[r11 + r10 * 8]);                    // the 16-byte entry
            a.mov(r11, __qword_ptr[r10]);                     // -tag
            a.lea(r11, __[r11 + r8]);                         // r8's upper half is zero
            a.mov(r12, __qword_ptr[r14 + NativeFrame.OffJumpGeneration]);
            a.lea(r11, __[r11 + r12]);                        // zero on a hit
            JumpUnlessZero(r11, exit);
            a.jmp(__qword_ptr[r10 + 8]);
            a.Label(ref exit);
            ExitWithEip(0); // the ops are counted by the countdown
        }

        /// <summary>
        /// r13 = host address of the guest operand whose linear address is in r12d (with
        /// <paramref name="folded"/>: r13 = the entry's addend, and the operand is [r12+r13]), or a
        /// jump to the interpret exit of op i. Clobbers r10, r11 and the flags: call it inside Guarded.
        /// </summary>
        private void Lookup(int i, int size, bool write, bool folded = false)
        {
            // The entry is indexed by the page of the first byte, and its tag compared with the page
            // of the last byte (QEMU's softmmu trick): one compare also catches an access crossing
            // into the next page, since an entry's tag always matches its own index.
            Label miss = a.CreateLabel();
            AssemblerRegister32 last = size > 1 ? r11d : r12d;
            int table = write ? NativeFrame.OffTlbWrite : NativeFrame.OffTlbRead;
            if (Flagless)
            {
                // BMI2's SHLX/SHRX shift without flags, NOT and LEA subtract without flags, and a
                // zero is tested through JRCXZ: the guest's flags never leave RFLAGS.
                a.mov(r10d, 12);
                if (size > 1) a.lea(r11d, __[r12 + (size - 1)]);
                a.shrx(r11d, last, r10d);                      // the page of the last byte
                a.shrx(r13d, r12d, r10d);                      // the page of the first
                a.mov(r10d, 32 - Cpu.TlbBits);
                a.shlx(r13d, r13d, r10d);
                a.mov(r10d, 32 - Cpu.TlbBits - 5);
                a.shrx(r13d, r13d, r10d);                      // (page & TlbMask) * 32: the entry's offset
                a.mov(r10, __qword_ptr[r14 + table]);
                a.lea(r10, __[r10 + r13]);                     // the entry
                a.mov(r13d, __dword_ptr[r10]);
                a.not(r13d);
                a.lea(r13d, __[r13 + r11 + 1]);                // last page - tag: 0 on a hit
                JumpUnlessZero(r13, miss);
                a.mov(r13, __qword_ptr[r10 + 16]);             // the addend
            }
            else
            {
                if (size > 1) a.lea(r11d, __[r12 + (size - 1)]);
                else a.mov(r11d, r12d);
                a.shr(r11d, 12);                               // the page of the last byte
                a.mov(r13d, r12d);
                a.shr(r13d, 7);
                a.and(r13d, Cpu.TlbMask << 5);                 // (first byte's page & TlbMask) * 32: the entry's offset
                a.add(r13, __qword_ptr[r14 + table]);
                a.cmp(r11d, __dword_ptr[r13]);
                a.jne(miss);
                a.mov(r13, __qword_ptr[r13 + 16]);             // the addend
            }
            if (!folded) a.lea(r13, __[r12 + r13]);            // host = linear + addend (r12's upper half is zero)
            Action restore = RestoreGuestFlags();
            _stubs.Add(() =>
            {
                a.Label(ref miss);
                restore(); // the op starts over in the interpreter, with the flags it had
                ExitAt(i, i, NativeExit.Interpret);
            });
        }

        /// <summary>
        /// The lookup of a copied instruction's operand (see <see cref="Lookup"/>; r13 = the addend,
        /// the operand [r12+r13]) through a page predictor: a guessed TLB entry (the one this
        /// operand's last access used, from its slot in the frame by EIP, or the displacement's
        /// page's) is read and checked, and only when its tag is not the operand's page (or the
        /// access crosses a page) is the entry computed from the address, out of line (and, for a
        /// slot, remembered). The entry's address then does not depend on the operand's address, so
        /// the addend is loaded while the address is still being computed: the load that uses the
        /// address waits for one LEA, not for a shift, a mask, and the addend's load (a loop that
        /// indexes a table by the last value it loaded, CRC-32's, runs on that chain). With the
        /// guest's flags live and BMI2 the flagless lookup is used instead.
        /// </summary>
        private void PredictedLookup(int i, in Instruction ins, int size, bool write)
        {
            // Which operands are predicted, and from what: a mispredicted page costs a branch
            // mispredict on top of the plain lookup, and pointer-based operands that wander over
            // pages (the xz decoder's dictionary, the kernel's structures) made the Linux boot ~15%
            // slower when every operand was predicted. So: ESP-based operands (the stack's page
            // changes rarely) from their slot; one register plus a displacement of at least a
            // page (a table or array at a constant address, indexed: CRC-32's) guess the
            // displacement's page, a constant entry; everything else takes the plain lookup.
            uint disp = ins.MemoryDisplacement32;
            bool stack = ins.MemoryBase == Register.ESP;
            bool table = !stack && (ins.MemoryBase == Register.None) != (ins.MemoryIndex == Register.None) && disp >= 0x1000 && disp < 0xFFFF_F000;
            if (Flagless || !predict || ins.MemorySegment is Register.FS or Register.GS || !(stack || table))
            {
                Lookup(i, size, write, folded: true);
                return;
            }
            Label predictMiss = a.CreateLabel(), hit = a.CreateLabel();
            uint eip = linearStart + Offset(i);
            int slot = NativeFrame.OffPredictor + 4 * (int)((eip ^ (eip >> 12)) & (NativeFrame.PredictorSlots - 1));
            int tlb = write ? NativeFrame.OffTlbWrite : NativeFrame.OffTlbRead;
            a.mov(r11d, r12d);
            a.shr(r11d, 12);                                   // the page of the first byte
            if (stack)
            {
                a.mov(r13d, __dword_ptr[r14 + slot]);          // the predicted entry's offset
                a.add(r13, __qword_ptr[r14 + tlb]);
            }
            else
            {
                a.mov(r13, __qword_ptr[r14 + tlb]);
                a.lea(r13, __[r13 + (int)(((disp >> 12) & Cpu.TlbMask) << 5)]); // the displacement's page's entry
            }
            a.cmp(r11d, __dword_ptr[r13]);
            a.jne(predictMiss);
            if (size > 1)
            {
                // The tag matched the first byte's page: the last byte must be on it too.
                a.lea(r10d, __[r12 + (size - 1)]);
                a.shr(r10d, 12);
                a.cmp(r10d, r11d);
                a.jne(predictMiss);
            }
            a.Label(ref hit);
            a.mov(r13, __qword_ptr[r13 + 16]);                 // the addend
            Action restore = RestoreGuestFlags();
            _stubs.Add(() =>
            {
                // The entry from the address (Lookup's), remembered in the slot; its tag compared
                // with the last byte's page, which also catches a crossing.
                a.Label(ref predictMiss);
                if (size > 1) a.lea(r11d, __[r12 + (size - 1)]);
                else a.mov(r11d, r12d);
                a.shr(r11d, 12);
                a.mov(r13d, r12d);
                a.shr(r13d, 7);
                a.and(r13d, Cpu.TlbMask << 5);
                if (stack) a.mov(__dword_ptr[r14 + slot], r13d);
                a.add(r13, __qword_ptr[r14 + tlb]);
                a.cmp(r11d, __dword_ptr[r13]);
                a.je(hit);
                restore();
                ExitAt(i, i, NativeExit.Interpret);
            });
        }

        /// <summary>
        /// The lookup of an operand at a constant linear address (a global: no base, no index, a
        /// flat segment), in r12d: its TLB entry is a constant too, so only its tag is compared
        /// with the constant page before the addend is loaded (r13; the operand is [r12+r13]). An
        /// operand across a page end, or one with the guest's flags live under BMI2, takes
        /// <see cref="Lookup"/>'s path.
        /// </summary>
        private void ConstantLookup(int i, uint linear, int size, bool write)
        {
            if (Flagless || (linear & 0xFFF) + (uint)size > 0x1000)
            {
                Lookup(i, size, write, folded: true);
                return;
            }
            Label miss = a.CreateLabel();
            int entry = (int)(((linear >> 12) & Cpu.TlbMask) << 5);
            a.mov(r13, __qword_ptr[r14 + (write ? NativeFrame.OffTlbWrite : NativeFrame.OffTlbRead)]);
            a.cmp(__dword_ptr[r13 + entry], (int)(linear >> 12));
            a.jne(miss);
            a.mov(r13, __qword_ptr[r13 + entry + 16]);         // the addend
            Action restore = RestoreGuestFlags();
            _stubs.Add(() =>
            {
                a.Label(ref miss);
                restore();
                ExitAt(i, i, NativeExit.Interpret);
            });
        }

        /// <summary>
        /// r12d = linear address of the memory operand of op i (32-bit wrap, FS/GS base added); an
        /// FS or GS offset beyond the segment's limit goes to the interpreter (which raises #GP).
        /// Clobbers r11 and, for FS/GS, the flags.
        /// </summary>
        private void LinearAddress(int i, in Instruction ins, int size, bool write)
        {
            Register bas = Map(ins.MemoryBase), idx = Map(ins.MemoryIndex);
            int disp = (int)ins.MemoryDisplacement32;
            if (bas == Register.None && idx == Register.None)
                a.mov(r12d, disp);
            else
                a.AddInstruction(Instruction.Create(Code.Lea_r32_m, Register.R12D, new MemoryOperand(bas, idx, ins.MemoryIndexScale, disp, disp == 0 ? 0 : 4)));
            SegmentedAddress(i, ins.MemorySegment, size, write);
        }

        /// <summary>
        /// r12d, an offset in segment <paramref name="seg"/>, becomes a linear address: for FS and
        /// GS the limit is checked (beyond it op i goes to the interpreter, which raises #GP) and the
        /// base added; the other segments are flat with base 0 (entry check). Clobbers r11 and the flags.
        /// </summary>
        private void SegmentedAddress(int i, Register seg, int size, bool write)
        {
            if (seg is not (Register.FS or Register.GS)) return;
            Label miss = a.CreateLabel();
            int limit = seg == Register.FS
                ? write ? NativeFrame.OffFsWriteLimit : NativeFrame.OffFsReadLimit
                : write ? NativeFrame.OffGsWriteLimit : NativeFrame.OffGsReadLimit;
            a.mov(r11, __qword_ptr[r14 + limit]);
            a.lea(r11, __[r11 - (size - 1)]);
            if (Flagless)
            {
                // limit - (size - 1) - offset < 0 (r12's upper half is zero): its sign byte, by BSWAP.
                a.not(r12);
                a.lea(r11, __[r11 + r12 + 1]);
                a.not(r12);
                a.bswap(r11);
                a.movzx(r11d, r11b);
                JumpUnlessZero(r11, miss);
            }
            else
            {
                a.cmp(r12, r11); // the limit may be negative: signed
                a.jg(miss);
            }
            a.mov(r11d, __dword_ptr[r14 + (seg == Register.FS ? NativeFrame.OffFsBase : NativeFrame.OffGsBase)]);
            a.lea(r12d, __[r12 + r11]);
            Action restore = RestoreGuestFlags();
            _stubs.Add(() =>
            {
                a.Label(ref miss);
                restore();
                ExitAt(i, i, NativeExit.Interpret);
            });
        }

        /// <summary>Emits op i.</summary>
        public void Op(int i)
        {
            // An op that changes the guest's flags (or one the interpreter runs, resumed after) makes
            // the frame's copy stale, for its own guarded code and for what follows.
            bool changesFlags = !copied[i] || (b.Instructions[i].RflagsModified & ArithFlags) != 0;
            if (changesFlags) _flagsCopied = false;
            EmitOp(i);
            if (changesFlags) _flagsCopied = false;
        }

        private void EmitOp(int i)
        {
            ref readonly Instruction ins = ref b.Instructions[i];
            bool saveFlags = live[i];
            if (!copied[i])
            {
                ByHandler(i);
                return;
            }
            switch (ins.Mnemonic)
            {
                case Mnemonic.Push:
                    {
                        if (ins.Op0Kind == OpKind.Memory)
                        {
                            // PUSH m32: the operand (its address from the registers before the push) into the scratch word.
                            Instruction source = ins;
                            Guarded(saveFlags, () =>
                            {
                                LinearAddress(i, in source, 4, write: false);
                                Lookup(i, 4, write: false);
                            });
                            a.mov(r10d, __dword_ptr[r13]);
                            a.mov(__dword_ptr[r14 + NativeFrame.OffScratch], r10d);
                        }
                        a.lea(r12d, __[r15 - 4]);
                        Guarded(saveFlags, () => Lookup(i, 4, write: true));
                        // PUSH ESP stores the value before the decrement: R15 moves only afterwards.
                        if (ins.Op0Kind == OpKind.Register) a.mov(__dword_ptr[r13], GuestReg(ins.Op0Register));
                        else if (ins.Op0Kind == OpKind.Memory)
                        {
                            a.mov(r10d, __dword_ptr[r14 + NativeFrame.OffScratch]);
                            a.mov(__dword_ptr[r13], r10d);
                        }
                        else a.mov(__dword_ptr[r13], (int)ins.GetImmediate(0));
                        a.mov(r15d, r12d);
                        return;
                    }
                case Mnemonic.Pop when ins.Op0Kind == OpKind.Memory:
                    {
                        // POP m32 (not ESP-relative: the SDM computes that address after the increment).
                        // Both accesses are checked before anything changes, so a fault in either
                        // leaves ESP and memory as they were.
                        a.mov(r12d, r15d);
                        Guarded(saveFlags, () => Lookup(i, 4, write: false));
                        a.mov(r10d, __dword_ptr[r13]);
                        a.mov(__dword_ptr[r14 + NativeFrame.OffScratch], r10d);
                        Instruction target = ins;
                        Guarded(saveFlags, () =>
                        {
                            LinearAddress(i, in target, 4, write: true);
                            Lookup(i, 4, write: true);
                        });
                        a.mov(r10d, __dword_ptr[r14 + NativeFrame.OffScratch]);
                        a.mov(__dword_ptr[r13], r10d);
                        a.lea(r15d, __[r15 + 4]);
                        return;
                    }
                case Mnemonic.Pop:
                    a.mov(r12d, r15d);
                    Guarded(saveFlags, () => Lookup(i, 4, write: false));
                    if (ins.Op0Register == Register.ESP) a.mov(r15d, __dword_ptr[r13]); // POP ESP: the loaded value wins
                    else
                    {
                        a.mov(GuestReg(ins.Op0Register), __dword_ptr[r13]);
                        a.lea(r15d, __[r15 + 4]);
                    }
                    return;
                case Mnemonic.Rdtsc:
                    {
                        // On an instruction clock the TSC is linear in instructions retired: the frame's
                        // TSC plus ticks per instruction times the ops of the blocks run since (what the
                        // interpreter sees, which counts a block's ops when it ends). Otherwise, or with
                        // CR4.TSD outside ring 0, the handler.
                        Label handler = a.CreateLabel();
                        ByteTest(NativeFrame.OffTscInline, handler);
                        a.pushfq();
                        a.mov(r10, __qword_ptr[r14 + NativeFrame.OffBudget]);
                        a.sub(r10, r9);
                        a.imul(r10, __qword_ptr[r14 + NativeFrame.OffTscPerInstruction]);
                        a.add(r10, __qword_ptr[r14 + NativeFrame.OffTscBase]);
                        a.mov(r11, r10);
                        a.shr(r11, 32);
                        a.popfq();
                        a.mov(eax, r10d);
                        a.mov(edx, r11d);
                        _stubs.Add(() =>
                        {
                            a.Label(ref handler);
                            ExitAt(i, i, NativeExit.Handler);
                        });
                        return;
                    }
                case Mnemonic.Cli:
                    IfWritable(i);
                    a.mov(__byte_ptr[r14 + NativeFrame.OffIfFlag], 0);
                    return;
                case Mnemonic.Sti:
                    // IF 0 -> 1: the next instruction runs in the interrupt shadow, and interrupts may
                    // be deliverable after it: back to the dispatcher, which knows both (STI ends the block).
                    IfWritable(i);
                    SetIfWithShadow();
                    ExitAt(i + 1, i + 1);
                    return;
                case Mnemonic.Pushfd:
                    {
                        FlagsImage(r8d);
                        a.lea(r12d, __[r15 - 4]);
                        Guarded(saveFlags, () => Lookup(i, 4, write: true));
                        a.mov(__dword_ptr[r13], r8d);
                        a.mov(r15d, r12d);
                        return;
                    }
                case Mnemonic.Popfd:
                    {
                        // At CPL 0 every flag but VM, VIF and VIP comes from the stack (RF is cleared);
                        // elsewhere the interpreter applies the privilege rules. POPF ends the block:
                        // back to the dispatcher, which delivers an interrupt IF may have enabled.
                        Label handler = a.CreateLabel();
                        ByteTest(NativeFrame.OffCpl0, handler);
                        a.mov(r12d, r15d);
                        Guarded(saveFlags, () => Lookup(i, 4, write: false));
                        a.mov(r8d, __dword_ptr[r13]);
                        a.lea(r15d, __[r15 + 4]);
                        LoadFlagsAtCpl0();
                        ExitAt(i + 1, i + 1);
                        _stubs.Add(() =>
                        {
                            a.Label(ref handler);
                            ExitAt(i, i, NativeExit.Handler);
                        });
                        return;
                    }
                case Mnemonic.Leave:
                    // ESP = EBP, then POP EBP: nothing changes if the load misses (the interpreter redoes it whole).
                    a.mov(r12d, ebp);
                    Guarded(saveFlags, () => Lookup(i, 4, write: false));
                    a.mov(ebp, __dword_ptr[r13]);
                    a.lea(r15d, __[r12 + 4]);
                    return;
                case Mnemonic.Call:
                    if (hotEntry >= 0 && i == b.Instructions.Length - 1 && ins.Code == Code.Call_rel32_32) HotCall(i, (Paravirt.VirtCall)hotEntry, linearStart + ins.NearBranch32);
                    a.lea(r12d, __[r15 - 4]);
                    if (ins.Op0Kind == OpKind.Register) a.mov(r8d, GuestReg(ins.Op0Register)); // before the push: CALL ESP
                    Guarded(saveFlags, () => Lookup(i, 4, write: true));
                    a.mov(__dword_ptr[r13], (int)(linearStart + Offset(i + 1)));
                    a.mov(r15d, r12d);
                    if (ins.Op0Kind == OpKind.Register) Dispatch(i + 1);
                    else Link(i + 1, ins.NearBranch32);
                    return;
                case Mnemonic.Ret:
                    a.mov(r12d, r15d);
                    Guarded(saveFlags, () => Lookup(i, 4, write: false));
                    a.mov(r8d, __dword_ptr[r13]);
                    a.lea(r15d, __[r15 + 4 + (ins.Code == Code.Retnd_imm16 ? ins.Immediate16 : 0)]);
                    Dispatch(i + 1);
                    return;
                case Mnemonic.Jmp:
                    if (ins.Op0Kind == OpKind.Register)
                    {
                        a.mov(r8d, GuestReg(ins.Op0Register));
                        Dispatch(i + 1);
                    }
                    else Link(i + 1, ins.NearBranch32);
                    return;
            }
            if (StringOp(in ins) is int elementSize and > 0)
            {
                StringInstruction(i, in ins, elementSize);
                return;
            }
            if (ins.Code.IsJccShortOrNear())
            {
                if (ins.NearBranch32 == 0 && whole)
                {
                    // A loop back to the block's start: the back edge falls through, so a pass takes
                    // one jump (the link's), not two.
                    Label exit = a.CreateLabel();
                    Jcc(Negated(ins.ConditionCode), exit);
                    Link(i + 1, 0);
                    a.Label(ref exit);
                    Link(i + 1, Offset(i + 1));
                    return;
                }
                Label taken = a.CreateLabel();
                Jcc(ins.ConditionCode, taken);
                Link(i + 1, Offset(i + 1));
                a.Label(ref taken);
                Link(i + 1, ins.NearBranch32);
                return;
            }
            // PAUSE is a spin-loop hint: nothing to do (a host PAUSE costs up to ~140 cycles, and a guest
            // delay loop on an instruction clock would pay it on every pass).
            if (ins.Mnemonic == Mnemonic.Pause) return;
            if (ins.Mnemonic == Mnemonic.Div)
            {
                Divide(i, in ins);
                return;
            }
            if (ins.Mnemonic == Mnemonic.Idiv)
            {
                DivideSigned(i, in ins);
                return;
            }
            // A copied instruction.
            bool memory = HasMemory(in ins) && ins.Mnemonic != Mnemonic.Lea;
            Instruction copy = Rewrite(in ins, folded: memory);
            if (memory)
            {
                bool write = OperationTable.Of(ins.Mnemonic).Memory switch
                {
                    MemoryUse.ReadsOnly => false,
                    MemoryUse.WritesAlways => true,
                    _ => ins.Op0Kind == OpKind.Memory,
                };
                int size = ins.MemorySize.GetSize();
                Instruction guest = ins;
                Guarded(saveFlags, () =>
                {
                    LinearAddress(i, in guest, size, write);
                    if (guest.MemoryBase == Register.None && guest.MemoryIndex == Register.None && guest.MemorySegment is not (Register.FS or Register.GS))
                        ConstantLookup(i, guest.MemoryDisplacement32, size, write);
                    else PredictedLookup(i, in guest, size, write);
                });
            }
            a.AddInstruction(copy);
        }

        private static AssemblerRegister32 GuestReg(Register r) => s_guest[r - Register.EAX];

        /// <summary>
        /// IDIV r/m8, r/m16 and r/m32 with #DE raised exactly. Its overflow rule (the quotient must fit
        /// the operand size, signed) is not one compare, so the host divides the dividend (AX, DX:AX or
        /// EDX:EAX) sign-extended to 64 bits by the sign-extended divisor in 64 bits, which cannot fault
        /// once a zero divisor and, for 32 bits, -1 (INT64_MIN / -1) have gone to the interpreter, and
        /// the quotient is checked after: when it does not fit, EAX and EDX are put back from R8 and R12
        /// and op i goes to the interpreter, which raises #DE. Otherwise the quotient and remainder go
        /// into AL/AH, AX/DX or EAX/EDX, the rest of EAX and EDX kept. IDIV leaves every flag undefined,
        /// so the checks may clobber them; a miss or the #DE still sees them (<see cref="Guarded"/>).
        /// </summary>
        private void DivideSigned(int i, in Instruction ins)
        {
            Label toInterpreter = a.CreateLabel(), overflow = a.CreateLabel();
            bool memory = ins.Op0Kind == OpKind.Memory;
            int size = memory ? ins.MemorySize.GetSize() : ins.Op0Register.GetSize();
            Code load = size switch { 1 => Code.Movsx_r64_rm8, 2 => Code.Movsx_r64_rm16, _ => Code.Movsxd_r64_rm32 };
            Instruction guest = ins;
            Action restore = () => { };
            Guarded(live[i], () =>
            {
                if (memory)
                {
                    LinearAddress(i, in guest, size, write: false);
                    Lookup(i, size, write: false);
                    a.AddInstruction(Instruction.Create(load, Register.R10, new MemoryOperand(Register.R13)));
                }
                else a.AddInstruction(Instruction.Create(load, Register.R10, Map(guest.Op0Register)));
                restore = RestoreGuestFlags();
            });
            a.test(r10, r10);
            a.je(toInterpreter);                                   // #DE: a zero divisor
            if (size == 4)
            {
                a.cmp(r10, -1);
                a.je(toInterpreter);                               // the quotient is -dividend: the interpreter decides
            }
            a.mov(r8d, eax);                                       // the guest's EAX and EDX, to put back
            a.mov(r12d, edx);
            switch (size)
            {
                case 1:
                    a.movsx(rax, ax);                              // AX
                    break;
                case 2:
                    a.movzx(r11d, dx);                             // DX:AX
                    a.shl(r11d, 16);
                    a.movzx(eax, ax);
                    a.or(r11d, eax);
                    a.movsxd(rax, r11d);
                    break;
                default:
                    a.shl(r12, 32);                                // EDX:EAX
                    a.or(r12, r8);
                    a.mov(rax, r12);
                    a.shr(r12, 32);
                    break;
            }
            a.cqo();
            a.idiv(r10);
            switch (size)                                          // #DE: the quotient does not fit the operand size
            {
                case 1: a.movsx(r11, al); break;
                case 2: a.movsx(r11, ax); break;
                default: a.movsxd(r11, eax); break;
            }
            a.cmp(r11, rax);
            a.jne(overflow);
            switch (size)
            {
                case 1:                                            // AL = quotient, AH = remainder; EDX and the rest of EAX kept
                    a.movzx(r10d, al);
                    a.movzx(r11d, dl);
                    a.shl(r11d, 8);
                    a.or(r10d, r11d);
                    a.mov(eax, r8d);
                    a.mov(ax, r10w);
                    a.mov(edx, r12d);
                    break;
                case 2:                                            // AX = quotient, DX = remainder; the upper halves kept
                    a.mov(r10d, eax);
                    a.mov(r11d, edx);
                    a.mov(eax, r8d);
                    a.mov(ax, r10w);
                    a.mov(edx, r12d);
                    a.mov(dx, r11w);
                    break;
                default:
                    a.mov(eax, eax);                               // the guest's registers are 32 bits wide
                    a.mov(edx, edx);
                    break;
            }
            _stubs.Add(() =>
            {
                a.Label(ref overflow);
                a.mov(eax, r8d);
                a.mov(edx, r12d);
                a.Label(ref toInterpreter);
                restore();
                ExitAt(i, i, NativeExit.Handler);
            });
        }

        /// <summary>
        /// DIV, copied, with #DE raised exactly: the quotient overflows (a zero divisor included) exactly
        /// when the dividend's high half (AH, DX, EDX) is at least the divisor, unsigned, so that is
        /// compared first and the host's own DIV, which then cannot fault, computes the quotient and
        /// remainder. On overflow op i goes to the interpreter with the state untouched, which raises
        /// #DE. DIV leaves every flag undefined, so the compare may clobber them (a miss or the #DE
        /// still sees them: <see cref="Guarded"/>); IDIV: <see cref="DivideSigned"/>.
        /// </summary>
        private void Divide(int i, in Instruction ins)
        {
            Label overflow = a.CreateLabel();
            bool memory = ins.Op0Kind == OpKind.Memory;
            int size = memory ? ins.MemorySize.GetSize() : ins.Op0Register.GetSize();
            Instruction guest = ins;
            Guarded(live[i], () =>
            {
                if (memory)
                {
                    LinearAddress(i, in guest, size, write: false);
                    Lookup(i, size, write: false);
                }
                Register divisor = memory ? Register.None : Map(guest.Op0Register);
                var operand = new MemoryOperand(Register.R13);
                switch (size)
                {
                    case 4:
                        a.AddInstruction(memory ? Instruction.Create(Code.Cmp_r32_rm32, Register.EDX, operand) : Instruction.Create(Code.Cmp_r32_rm32, Register.EDX, divisor));
                        break;
                    case 2:
                        a.AddInstruction(memory ? Instruction.Create(Code.Cmp_r16_rm16, Register.DX, operand) : Instruction.Create(Code.Cmp_r16_rm16, Register.DX, divisor));
                        break;
                    default:
                        a.mov(r11d, eax);
                        a.shr(r11d, 8);                        // AH, where a REX prefix can reach it
                        a.AddInstruction(memory ? Instruction.Create(Code.Cmp_r8_rm8, Register.R11L, operand) : Instruction.Create(Code.Cmp_r8_rm8, Register.R11L, divisor));
                        break;
                }
                a.jae(overflow);
                Action restore = RestoreGuestFlags();
                _stubs.Add(() =>
                {
                    a.Label(ref overflow);
                    restore();
                    ExitAt(i, i, NativeExit.Handler);
                });
            });
            a.AddInstruction(Rewrite(in ins));
        }

        /// <summary>
        /// LODS, STOS, MOVS, SCAS, CMPS with DF clear (else the handler runs it). A REP form loops
        /// here as the interpreter does: up to RepChunkIterations, then back to the dispatcher with
        /// EIP on the instruction (one instruction retired per chunk, as the interpreter counts). A
        /// TLB miss leaves before the element with ECX, ESI and EDI as far as they got: the
        /// interpreter goes on from there. R8 counts the chunk.
        /// </summary>
        private void StringInstruction(int i, in Instruction ins, int size)
        {
            Label handler = a.CreateLabel(), loop = a.CreateLabel(), done = a.CreateLabel(), start = a.CreateLabel();
            bool rep = ins.HasRepPrefix || ins.HasRepnePrefix;
            Mnemonic m = ins.Mnemonic;
            bool lods = m is Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd, stos = m is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd;
            bool movs = m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd, cmps = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd;
            bool compares = !(lods || stos || movs);
            // LODS, STOS, MOVS leave the flags alone: they are restored after each lookup when live.
            // SCAS and CMPS replace them (a miss still restores them for the interpreter).
            bool keep = !compares && live[i];
            Register source = ins.MemorySegment;
            ByteTest(NativeFrame.OffDfClear, handler);
            if (rep)
            {
                Label zero = a.CreateLabel();
                a.jrcxz(zero);                               // ECX = 0: no iteration at all
                a.jmp(start);
                a.Label(ref zero);
                a.jmp(done);
                a.Label(ref start);
                a.mov(r8d, Cpu.RepChunkIterations);
            }
            if (rep) a.Label(ref loop); // (ByteTest ended on a label: one label per instruction)
            if (lods || movs || cmps)
            {
                Guarded(keep, () =>
                {
                    a.mov(r12d, esi);
                    SegmentedAddress(i, source, size, write: false);
                    Lookup(i, size, write: false);
                });
                if (lods) LoadAccumulator(size);
                else
                {
                    // The source element waits in the frame while the destination is looked up.
                    if (size == 1) a.movzx(r12d, __byte_ptr[r13]); else if (size == 2) a.movzx(r12d, __word_ptr[r13]); else a.mov(r12d, __dword_ptr[r13]);
                    a.mov(__dword_ptr[r14 + NativeFrame.OffScratch], r12d);
                }
            }
            if (!lods)
            {
                Guarded(keep, () =>
                {
                    a.mov(r12d, edi);
                    Lookup(i, size, write: stos || movs); // ES is flat (entry check)
                });
                if (stos)
                {
                    if (size == 4) a.mov(__dword_ptr[r13], eax); else if (size == 2) a.mov(__word_ptr[r13], ax); else a.mov(__byte_ptr[r13], al);
                }
                else if (ScasUsesAccumulator(m))
                {
                    if (size == 4) a.cmp(eax, __dword_ptr[r13]); else if (size == 2) a.cmp(ax, __word_ptr[r13]); else a.cmp(al, __byte_ptr[r13]);
                }
                else
                {
                    a.mov(r12d, __dword_ptr[r14 + NativeFrame.OffScratch]);
                    if (movs)
                    {
                        if (size == 4) a.mov(__dword_ptr[r13], r12d); else if (size == 2) a.mov(__word_ptr[r13], r12w); else a.mov(__byte_ptr[r13], r12b);
                    }
                    else if (size == 4) a.cmp(r12d, __dword_ptr[r13]); else if (size == 2) a.cmp(r12w, __word_ptr[r13]); else a.cmp(r12b, __byte_ptr[r13]);
                }
            }
            if (lods || movs || cmps) a.lea(esi, __[rsi + size]);
            if (!lods) a.lea(edi, __[rdi + size]);
            if (rep)
            {
                a.lea(ecx, __[rcx - 1]);
                a.jrcxz(done);                               // the count ran out
                if (compares)
                {
                    if (ins.HasRepPrefix) a.jne(done); else a.je(done); // REPE stops on a difference, REPNE on a match
                }
                a.lea(r8d, __[r8 - 1]);
                JumpUnlessZero(r8, loop);
                ExitAt(i, i + 1);                            // a whole chunk: the interpreter restarts here too
            }
            a.Label(ref done);
            a.nop(); // whatever comes next may start with a label of its own
            _stubs.Add(() =>
            {
                a.Label(ref handler);
                ExitAt(i, i, NativeExit.Handler);
            });
        }

        private static bool ScasUsesAccumulator(Mnemonic m) => m is Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd;

        /// <summary>LODS: the element into AL, AX or EAX (the rest of EAX kept for the narrow forms).</summary>
        private void LoadAccumulator(int size)
        {
            if (size == 4) a.mov(eax, __dword_ptr[r13]);
            else if (size == 2) a.mov(ax, __word_ptr[r13]);
            else a.mov(al, __byte_ptr[r13]);
        }

        /// <summary>Jumps to <paramref name="zero"/> when the frame byte is 0; flagless.</summary>
        private void ByteTest(int offset, Label zero)
        {
            a.movzx(r10d, __byte_ptr[r14 + offset]);
            JumpIfZero(r10, zero);
        }

        /// <summary>
        /// PUSHFD's image into <paramref name="dst"/>, flagless (LEA adds disjoint bits): the host's
        /// arithmetic flags (its other bits are 0x202: HostFlags), the frame's system flags (never VM
        /// or RF), IF. Uses R8 and R10.
        /// </summary>
        private void FlagsImage(AssemblerRegister32 dst)
        {
            a.pushfq();
            a.pop(r8);
            a.lea(r8d, __[r8 - HostFlags.NonArithmetic]);
            a.mov(r10d, __dword_ptr[r14 + NativeFrame.OffSysFlags]);
            a.lea(r8d, __[r8 + r10]);
            a.movzx(r10d, __byte_ptr[r14 + NativeFrame.OffIfFlag]);
            a.lea(r10d, __[r10 * 8]);
            a.lea(r10d, __[r10 * 8]);
            a.lea(r10d, __[r10 * 8]);              // IF << 9
            a.lea(dst, __[r8 + r10]);
        }

        /// <summary>STI's effect on the frame: IF set, and the interrupt shadow when IF was clear (0xFF then).</summary>
        private void SetIfWithShadow()
        {
            a.movzx(r10d, __byte_ptr[r14 + NativeFrame.OffIfFlag]);
            a.lea(r10d, __[r10 - 1]);
            a.mov(__byte_ptr[r14 + NativeFrame.OffStiShadow], r10b);
            a.mov(__byte_ptr[r14 + NativeFrame.OffIfFlag], 1);
        }

        /// <summary>
        /// POPFD at CPL 0 of the value in R8D: IF, the system flags (TF DF NT AC ID IOPL; VM, VIF,
        /// VIP stay) and DF's frame byte from it, the arithmetic flags into the host's RFLAGS.
        /// </summary>
        private void LoadFlagsAtCpl0()
        {
            a.mov(r10d, r8d);
            a.shr(r10d, 9);
            a.and(r10d, 1);
            a.mov(__byte_ptr[r14 + NativeFrame.OffIfFlag], r10b);
            a.mov(r10d, r8d);
            a.and(r10d, (int)(Flags.TF | Flags.DF | Flags.NT | Flags.AC | Flags.ID | Flags.IOPL));
            a.mov(r11d, __dword_ptr[r14 + NativeFrame.OffSysFlags]);
            a.and(r11d, (int)(Flags.VM | Flags.VIF | Flags.VIP | Flags.Reserved1));
            a.or(r10d, r11d);
            a.mov(__dword_ptr[r14 + NativeFrame.OffSysFlags], r10d);
            a.shr(r10d, 10);
            a.and(r10d, 1);
            a.xor(r10d, 1);
            a.mov(__byte_ptr[r14 + NativeFrame.OffDfClear], r10b);
            a.and(r8d, (int)Flags.Arith);
            a.or(r8d, HostFlags.NonArithmetic);
            a.push(r8);
            a.popfq();
        }

        /// <summary>
        /// VMI's inline form of a CALL rel32 to hot call-table entry <paramref name="entry"/> at
        /// <paramref name="target"/>: the entry's body runs here, with no return address pushed (the
        /// stub's RET would have popped it), as the interpreter's Cpu.InlineHotCall does. Everything
        /// that decides it is checked when it runs, so a stale block can never inline wrongly: CPL 0 in
        /// protected mode (the frame's Cpl0), the target's page in the read TLB and mapped to the
        /// placed table's physical page (the frame's CallTablePage, re-read at every entry, so a
        /// re-pointed or disabled table takes effect at once), and the stub's bytes still the monitor's
        /// (a guest that wrote over it runs its own code). When any check fails, the code that follows
        /// (the ordinary CALL) runs.
        /// </summary>
        private void HotCall(int i, Paravirt.VirtCall entry, uint target)
        {
            byte[] stub = Paravirt.CallTableStubs.Stub(entry);
            if (stub.Length > 4) throw new InvalidOperationException("a hot stub longer than a dword");
            uint mask = stub.Length == 4 ? 0xFFFF_FFFF : (1u << (8 * stub.Length)) - 1, expected = 0;
            for (int k = 0; k < stub.Length; k++) expected |= (uint)stub[k] << (8 * k);
            Label called = a.CreateLabel(), calledPop = a.CreateLabel();
            ByteTest(NativeFrame.OffCpl0, called);
            a.pushfq();
            int tlb = (int)(((target >> 12) & Cpu.TlbMask) << 5);       // the entry's offset (32-byte TlbEntry)
            a.mov(r13, __qword_ptr[r14 + NativeFrame.OffTlbRead]);
            a.cmp(__dword_ptr[r13 + tlb], (int)(target >> 12));          // Tag
            a.jne(calledPop);
            a.mov(r10d, __dword_ptr[r14 + NativeFrame.OffCallTablePage]);
            a.cmp(__dword_ptr[r13 + tlb + 4], r10d);                     // PhysPage
            a.jne(calledPop);
            a.mov(r13, __qword_ptr[r13 + tlb + 16]);                     // Addend
            a.mov(r12d, (int)target);
            a.mov(r10d, __dword_ptr[r13 + r12]);                          // the stub (aligned: within the page)
            a.and(r10d, (int)mask);
            a.cmp(r10d, (int)expected);
            a.jne(calledPop);
            a.inc(__qword_ptr[r14 + NativeFrame.OffInlinedCalls]);
            a.popfq();
            switch (entry)
            {
                case Paravirt.VirtCall.Cli:
                    a.mov(__byte_ptr[r14 + NativeFrame.OffIfFlag], 0);
                    Link(i + 1, Offset(i + 1));
                    break;
                case Paravirt.VirtCall.Sti:
                    // As STI: the instruction after the call site runs in its shadow, and back to the dispatcher.
                    SetIfWithShadow();
                    ExitAt(i + 1, i + 1);
                    break;
                case Paravirt.VirtCall.SaveFl:
                    // PUSHFD's image (VM and RF are never in the frame's SysFlags), into EAX: flagless.
                    FlagsImage(eax);
                    Link(i + 1, Offset(i + 1));
                    break;
                case Paravirt.VirtCall.RestoreFl:
                    // POPFD of EAX at CPL 0 (as the native POPFD): ends the block, so the dispatcher sees IF.
                    a.mov(r8d, eax);
                    LoadFlagsAtCpl0();
                    ExitAt(i + 1, i + 1);
                    break;
                case Paravirt.VirtCall.IrqEnableAndHalt:
                    // STI then HLT in its shadow: the dispatcher halts the VCPU after the call site (a pending interrupt wakes it).
                    a.mov(__byte_ptr[r14 + NativeFrame.OffIfFlag], 1);
                    a.mov(__byte_ptr[r14 + NativeFrame.OffHalt], 1);
                    ExitAt(i + 1, i + 1);
                    break;
                default:
                    throw new InvalidOperationException($"{entry} is not a hot entry");
            }
            a.Label(ref calledPop);
            a.popfq();
            a.Label(ref called);
        }

        /// <summary>CLI and STI need CPL &lt;= IOPL: when not, op i goes to the interpreter, which raises #GP.</summary>
        private void IfWritable(int i)
        {
            Label fault = a.CreateLabel();
            ByteTest(NativeFrame.OffIfWritable, fault);
            _stubs.Add(() =>
            {
                a.Label(ref fault);
                ExitAt(i, i, NativeExit.Handler);
            });
        }

        /// <summary>
        /// Wraps inserted code that clobbers flags (a TLB lookup, a limit check). Where the guest's
        /// flags are live: the flagless form (BMI2), else PUSHFQ before and POPFQ after. Where they
        /// are dead the code clobbers them freely, but a miss (the interpreter then redoes the op,
        /// and a fault pushes EFLAGS) must still see them exact: one copy in the frame, made by the
        /// first guarded code since the guest last changed its flags, serves every miss until then.
        /// Miss paths restore the flags from wherever this put them (<see cref="RestoreGuestFlags"/>).
        /// </summary>
        private void Guarded(bool live, Action emit)
        {
            if (flagless && live)
            {
                _guestFlags = GuestFlagsAt.Rflags;
                emit();
            }
            else if (live)
            {
                a.pushfq();
                _guestFlags = GuestFlagsAt.Stack;
                emit();
                a.popfq();
            }
            else
            {
                if (!_flagsCopied)
                {
                    CopyFlags();
                    _flagsCopied = true;
                }
                _guestFlags = GuestFlagsAt.FrameCopy;
                emit();
            }
            _guestFlags = GuestFlagsAt.Rflags;
        }

        /// <summary>Where the guest's flags are while guarded code runs: what its miss paths restore them from.</summary>
        private enum GuestFlagsAt { Rflags, Stack, FrameCopy }

        private GuestFlagsAt _guestFlags = GuestFlagsAt.Rflags;

        /// <summary>Whether the frame holds a copy of the guest's current flags (made since the guest last changed them).</summary>
        private bool _flagsCopied;

        /// <summary>Inserted code must leave RFLAGS alone (BMI2 forms): the guest's flags are in them and live.</summary>
        private bool Flagless => _guestFlags == GuestFlagsAt.Rflags;

        /// <summary>For a miss path of the guarded code being emitted: puts the guest's flags back into RFLAGS.</summary>
        private Action RestoreGuestFlags()
        {
            GuestFlagsAt at = _guestFlags;
            return () =>
            {
                if (at == GuestFlagsAt.Stack) a.popfq();
                else if (at == GuestFlagsAt.FrameCopy) FlagsFromCopy();
            };
        }

        /// <summary>
        /// The guest's arithmetic flags into the frame's copy: with LAHF (SF ZF AF PF CF into AH)
        /// and SETO (OF into AL), guest EAX kept in R10, where the host has LAHF in 64-bit mode: a
        /// few one-cycle instructions where PUSHFQ is microcoded (<see cref="HostFlags.LahfInLongMode"/>);
        /// else PUSHFQ's image. Clobbers R10.
        /// </summary>
        private void CopyFlags()
        {
            if (HostFlags.LahfInLongMode)
            {
                a.mov(r10, rax);
                a.lahf();
                a.seto(al);
                a.mov(__word_ptr[r14 + NativeFrame.OffGuestFlagsCopy], ax);
                a.mov(rax, r10);
            }
            else
            {
                a.pushfq();
                a.pop(__qword_ptr[r14 + NativeFrame.OffGuestFlagsCopy]);
            }
        }

        /// <summary>
        /// The frame's copy back into RFLAGS (<see cref="CopyFlags"/>): OF by ADD AL,7Fh (0x01 + 0x7F
        /// overflows, 0x00 + 0x7F does not), then SAHF for the other five; no POPFQ (microcoded,
        /// ~5 ns on Zen 4). Clobbers R10.
        /// </summary>
        private void FlagsFromCopy()
        {
            if (HostFlags.LahfInLongMode)
            {
                a.mov(r10, rax);
                a.movzx(eax, __word_ptr[r14 + NativeFrame.OffGuestFlagsCopy]);
                a.add(al, 0x7F);
                a.sahf();
                a.mov(rax, r10);
            }
            else
            {
                a.push(__qword_ptr[r14 + NativeFrame.OffGuestFlagsCopy]);
                a.popfq();
            }
        }

        private static ConditionCode Negated(ConditionCode cc) => cc switch
        {
            ConditionCode.o => ConditionCode.no,
            ConditionCode.no => ConditionCode.o,
            ConditionCode.b => ConditionCode.ae,
            ConditionCode.ae => ConditionCode.b,
            ConditionCode.e => ConditionCode.ne,
            ConditionCode.ne => ConditionCode.e,
            ConditionCode.be => ConditionCode.a,
            ConditionCode.a => ConditionCode.be,
            ConditionCode.s => ConditionCode.ns,
            ConditionCode.ns => ConditionCode.s,
            ConditionCode.p => ConditionCode.np,
            ConditionCode.np => ConditionCode.p,
            ConditionCode.l => ConditionCode.ge,
            ConditionCode.ge => ConditionCode.l,
            ConditionCode.le => ConditionCode.g,
            ConditionCode.g => ConditionCode.le,
            _ => throw new InvalidOperationException($"condition {cc}"),
        };

        private void Jcc(ConditionCode cc, Label l)
        {
            switch (cc)
            {
                case ConditionCode.o: a.jo(l); break;
                case ConditionCode.no: a.jno(l); break;
                case ConditionCode.b: a.jb(l); break;
                case ConditionCode.ae: a.jae(l); break;
                case ConditionCode.e: a.je(l); break;
                case ConditionCode.ne: a.jne(l); break;
                case ConditionCode.be: a.jbe(l); break;
                case ConditionCode.a: a.ja(l); break;
                case ConditionCode.s: a.js(l); break;
                case ConditionCode.ns: a.jns(l); break;
                case ConditionCode.p: a.jp(l); break;
                case ConditionCode.np: a.jnp(l); break;
                case ConditionCode.l: a.jl(l); break;
                case ConditionCode.ge: a.jge(l); break;
                case ConditionCode.le: a.jle(l); break;
                case ConditionCode.g: a.jg(l); break;
                default: throw new InvalidOperationException($"condition {cc}");
            }
        }
    }
}
