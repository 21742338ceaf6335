using System.Reflection;
using System.Reflection.Emit;
using Virt.Cpu.Execution;
using Virt.Cpu.Mmu;
using Virt.Cpu.State;

namespace Virt.Cpu.Translation;

/// <summary>
/// The translator (plex86-style): compiles one hot block of 32-bit code
/// into an IL DynamicMethod that shares the CPU object's state, MMU and handlers.
/// <list type="bullet">
/// <item>Guest registers live in IL locals for the whole block; they go back to <c>Cpu.R</c> only
/// at exits and before a call that can fault or read them (spills are in cold stubs).</item>
/// <item>Flags are tracked statically: the last flag-setting op's kind is known at compile time and
/// its operands sit in three locals, so a Jcc after CMP is one host compare and nothing is stored
/// per op. The lazy-flag fields are written only where state leaves the method.</item>
/// <item>Memory operands use the same software TLB inline (one compare, one host load or store);
/// a miss, a page-crossing access or MMIO calls the interpreter's accessor after spilling, so page
/// faults are precise (EipReg = the faulting instruction, retired count exact).</item>
/// <item>A block that branches back to its own start keeps the loop inside the method, with the
/// instruction budget counted down and events polled on the back edge.</item>
/// <item>Anything else (system, I/O, x87, strings, 16-bit ALU operations, MUL/DIV...) calls the
/// reference executor for that one instruction (<c>Cpu.TranslatedGeneric</c>).</item>
/// </list>
/// Entry assumptions (the segments the block addresses need no limit checks; SS is a 32-bit
/// stack) are checked in one compare on entry and after every generic call; when they fail the
/// block is interpreted instead. Invalidation is the block cache's: translated code hangs off
/// the Block, which a write to its page drops.
/// </summary>
internal sealed partial class BlockCompiler
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    private static FieldInfo CpuField(string name) => typeof(Cpu).GetField(name, Any) ?? throw new MissingFieldException(nameof(Cpu), name);
    private static MethodInfo CpuMethod(string name, params Type[] args) => typeof(Cpu).GetMethod(name, Any, args) ?? throw new MissingMethodException(nameof(Cpu), name);

    private static readonly FieldInfo s_r = CpuField(nameof(Cpu.R));
    private static readonly FieldInfo s_eip = CpuField(nameof(Cpu.EipReg));
    private static readonly FieldInfo s_seg = CpuField(nameof(Cpu.Seg));
    private static readonly FieldInfo s_fastSegMask = CpuField(nameof(Cpu._fastSegMask));
    private static readonly FieldInfo s_lfOp = CpuField("_lfOp");
    private static readonly FieldInfo s_lfA = CpuField("_lfA");
    private static readonly FieldInfo s_lfB = CpuField("_lfB");
    private static readonly FieldInfo s_lfRes = CpuField("_lfRes");
    private static readonly FieldInfo s_lfMask = CpuField("_lfMask");
    private static readonly FieldInfo s_flags = CpuField("_flags");
    private static readonly FieldInfo s_retired = CpuField("_retired");
    private static readonly FieldInfo s_exitBlock = CpuField("_exitBlock");
    private static readonly FieldInfo s_tlbR = CpuField("_tlbR");
    private static readonly FieldInfo s_tlbW = CpuField("_tlbW");
    private static readonly FieldInfo s_segBase = typeof(SegmentRegister).GetField(nameof(SegmentRegister.Base))!;
    private static readonly FieldInfo s_segLimit = typeof(SegmentRegister).GetField(nameof(SegmentRegister.Limit))!;
    private static readonly FieldInfo s_tlbTag = typeof(TlbEntry).GetField(nameof(TlbEntry.Tag))!;
    private static readonly FieldInfo s_tlbHost = typeof(TlbEntry).GetField(nameof(TlbEntry.Host))!;
    private static readonly MethodInfo s_read8 = CpuMethod("Read8", typeof(int), typeof(uint));
    private static readonly MethodInfo s_read16 = CpuMethod("Read16", typeof(int), typeof(uint));
    private static readonly MethodInfo s_read32 = CpuMethod("Read32", typeof(int), typeof(uint));
    private static readonly MethodInfo s_write8 = CpuMethod("Write8", typeof(int), typeof(uint), typeof(byte));
    private static readonly MethodInfo s_write16 = CpuMethod("Write16", typeof(int), typeof(uint), typeof(ushort));
    private static readonly MethodInfo s_write32 = CpuMethod("Write32", typeof(int), typeof(uint), typeof(uint));
    private static readonly MethodInfo s_generic = CpuMethod(nameof(Cpu.TranslatedGeneric), typeof(Block), typeof(int));
    private static readonly MethodInfo s_condition = CpuMethod(nameof(Cpu.Condition), typeof(int));
    private static readonly MethodInfo s_freezeCarry = CpuMethod(nameof(Cpu.FreezeCarry));
    private static readonly MethodInfo s_eventPending = CpuMethod(nameof(Cpu.EventPending));
    private static readonly MethodInfo s_nearTargetFault = CpuMethod(nameof(Cpu.RaiseNearTargetFault), typeof(uint));
    private static readonly MethodInfo s_shift = CpuMethod(nameof(Cpu.Shift), typeof(int), typeof(uint), typeof(uint), typeof(int));
    private static readonly MethodInfo s_alu = CpuMethod(nameof(Cpu.Alu), typeof(int), typeof(uint), typeof(uint), typeof(int));
    private static readonly MethodInfo s_imul = CpuMethod(nameof(Cpu.IMul), typeof(uint), typeof(uint), typeof(int));
    private static readonly MethodInfo s_parity = CpuMethod(nameof(Cpu.ParityEven), typeof(uint));

    private readonly Block _b;
    private readonly DecodedOp[] _ops;
    private readonly DynamicMethod _method;
    private readonly ILGenerator _il;
    private readonly List<Action> _stubs = new(); // cold paths, emitted after the body
    private readonly LocalBuilder?[] _reg = new LocalBuilder?[8];
    private readonly LocalBuilder?[] _segBase = new LocalBuilder?[6];
    private int _usedRegs, _writtenRegs;
    private int _needMask;
    private LocalBuilder _rRef = null!, _tlbR = null!, _tlbW = null!, _csLimit = null!, _done = null!, _iters = null!;
    private LocalBuilder _ea = null!, _la = null!, _entry = null!, _val = null!, _wval = null!, _t = null!, _next = null!, _smc = null!;
    private Label _loopHead;

    private BlockCompiler(Block b)
    {
        _b = b;
        _ops = b.Ops;
        _method = new DynamicMethod($"block_{b.PhysStart:X8}", typeof(long),
            [typeof(Cpu), typeof(Block), typeof(uint), typeof(long)], typeof(Cpu).Module, skipVisibility: true);
        _il = _method.GetILGenerator();
    }

    /// <summary>Compiles a block, or returns null when the translator does not handle it (16-bit code).</summary>
    public static TranslatedCode? Compile(Block b)
    {
        if (!b.Code32 || b.Ops.Length == 0) return null;
        var c = new BlockCompiler(b);
        c.FindExtras();
        // Each instruction left to the reference executor costs a spill and reload around it here,
        // more than the interpreter pays: a block made mostly of them stays interpreted.
        int generic = 0;
        for (int i = 0; i < c.N; i++) if (!c.IsInline(ref b.Ops[i], i)) generic++;
        if (generic * 2 > c.N) return null;
        c.Emit();
        return (TranslatedCode)c._method.CreateDelegate(typeof(TranslatedCode));
    }

    private int N => _ops.Length;

    // ---------------------------------------------------------------- body

    private void Emit()
    {
        Scan();
        DeclareLocals();
        // Entry guard: the segments this block addresses are flat (and SS a 32-bit stack), else interpret.
        var ok = _il.DefineLabel();
        var refuse = _il.DefineLabel();
        _il.Emit(OpCodes.Ldarg_3); _il.Emit(OpCodes.Ldc_I8, 0L); _il.Emit(OpCodes.Blt, refuse); // left < 0: JIT warm-up call
        EmitGuard(ok);
        _il.MarkLabel(refuse);
        _il.Emit(OpCodes.Ldc_I8, -1L);
        _il.Emit(OpCodes.Ret);
        _il.MarkLabel(ok);
        LoadRegisterBase();
        LoadRegisters();
        LoadContext();
        _il.Emit(OpCodes.Ldc_I8, 0L); _il.Emit(OpCodes.Stloc, _done);
        _il.Emit(OpCodes.Ldarg_3); _il.Emit(OpCodes.Ldc_I8, (long)N); _il.Emit(OpCodes.Div); _il.Emit(OpCodes.Stloc, _iters);
        _loopHead = _il.DefineLabel();
        _il.MarkLabel(_loopHead);
        _flagState = FlagState.Entry;
        _entryFlagsUsed = false;

        for (int i = 0; i < N; i++) EmitOp(i);

        foreach (var stub in _stubs.ToArray()) stub();
    }

    /// <summary>Which registers and segments the inline ops touch.</summary>
    private void Scan()
    {
        int used = 0;
        for (int i = 0; i < N; i++)
        {
            ref DecodedOp d = ref _ops[i];
            if (!IsInline(ref d, i)) continue;
            var move = _extras[i];
            var (reads, writes) = move.Kind != Extra.None ? ExtraRegisterUse(move) : RegisterUse(ref d);
            used |= reads | writes;
            _writtenRegs |= writes;
            if (move.Kind != Extra.None)
            {
                if (ExtraHasMemory(move.Kind))
                {
                    if (d.Base != DecodedOp.NoReg) used |= 1 << d.Base;
                    if (d.Index != DecodedOp.NoReg) used |= 1 << d.Index;
                    _needMask |= 1 << d.Seg;
                    if (ExtraWritesMemory(move.Kind)) _needMask |= 1 << (8 + d.Seg);
                }
                continue;
            }
            if (HasMemoryOperand(d.Op))
            {
                if (d.Base != DecodedOp.NoReg) used |= 1 << d.Base;
                if (d.Index != DecodedOp.NoReg) used |= 1 << d.Index;
                bool write = d.Op is Op.MovMR32 or Op.MovMI32 or Op.MovMR8 or Op.AluMR32 or Op.AluMI32 or Op.AluMI8
                    && !(d.Op is Op.AluMR32 or Op.AluMI32 or Op.AluMI8 && d.Sub >= 7);
                _needMask |= 1 << d.Seg;
                if (write) _needMask |= 1 << (8 + d.Seg);
            }
            if (UsesStack(d.Op))
            {
                used |= 1 << 4;
                _writtenRegs |= 1 << 4;
                _needMask |= (1 << SegmentIndex.SS) | (1 << (8 + SegmentIndex.SS)) | Cpu.FastStack32;
            }
        }
        _usedRegs = used;
    }

    private void DeclareLocals()
    {
        for (int r = 0; r < 8; r++) if ((_usedRegs & (1 << r)) != 0) _reg[r] = _il.DeclareLocal(typeof(uint));
        for (int s = 0; s < 6; s++) if ((_needMask & (0x101 << s)) != 0) _segBase[s] = _il.DeclareLocal(typeof(uint));
        _rRef = _il.DeclareLocal(typeof(uint).MakeByRefType());
        _tlbR = _il.DeclareLocal(typeof(TlbEntry[]));
        _tlbW = _il.DeclareLocal(typeof(TlbEntry[]));
        _csLimit = _il.DeclareLocal(typeof(uint));
        _done = _il.DeclareLocal(typeof(long));
        _iters = _il.DeclareLocal(typeof(long));
        _ea = _il.DeclareLocal(typeof(uint));
        _la = _il.DeclareLocal(typeof(uint));
        _entry = _il.DeclareLocal(typeof(TlbEntry).MakeByRefType());
        _val = _il.DeclareLocal(typeof(uint));
        _wval = _il.DeclareLocal(typeof(uint));
        _t = _il.DeclareLocal(typeof(uint));
        _next = _il.DeclareLocal(typeof(uint));
        _smc = _il.DeclareLocal(typeof(bool));
        _lfA = _il.DeclareLocal(typeof(uint));
        _lfB = _il.DeclareLocal(typeof(uint));
        _lfRes = _il.DeclareLocal(typeof(uint));
    }

    private void EmitGuard(Label ok)
    {
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, s_fastSegMask);
        _il.Emit(OpCodes.Ldc_I4, _needMask);
        _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Ldc_I4, _needMask);
        _il.Emit(OpCodes.Beq, ok);
    }

    /// <summary>
    /// _rRef = ref Cpu.R[0]: registers are then reached at fixed offsets from one managed pointer,
    /// with one bounds check per block entry instead of one per register (Cpu.R is readonly and
    /// always has 8 elements).
    /// </summary>
    private void LoadRegisterBase()
    {
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_r); _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ldelema, typeof(uint));
        _il.Emit(OpCodes.Stloc, _rRef);
    }

    private void RegisterAddress(int r)
    {
        _il.Emit(OpCodes.Ldloc, _rRef);
        if (r != 0) { _il.Emit(OpCodes.Ldc_I4, 4 * r); _il.Emit(OpCodes.Add); }
    }

    private void LoadRegisters()
    {
        for (int r = 0; r < 8; r++)
        {
            if (_reg[r] == null) continue;
            RegisterAddress(r); _il.Emit(OpCodes.Ldind_U4);
            _il.Emit(OpCodes.Stloc, _reg[r]!);
        }
    }

    /// <summary>TLB arrays (they follow CPL), segment bases and the CS limit: constant between generic calls.</summary>
    private void LoadContext()
    {
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_tlbR); _il.Emit(OpCodes.Stloc, _tlbR);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_tlbW); _il.Emit(OpCodes.Stloc, _tlbW);
        for (int s = 0; s < 6; s++)
        {
            if (_segBase[s] == null) continue;
            LoadSegField(s, s_segBase);
            _il.Emit(OpCodes.Stloc, _segBase[s]!);
        }
        LoadSegField(SegmentIndex.CS, s_segLimit);
        _il.Emit(OpCodes.Stloc, _csLimit);
    }

    private void LoadSegField(int s, FieldInfo f)
    {
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_seg); _il.Emit(OpCodes.Ldc_I4, s);
        _il.Emit(OpCodes.Ldelema, typeof(SegmentRegister)); _il.Emit(OpCodes.Ldfld, f);
    }

    /// <summary>Stores the registers the block writes back to Cpu.R.</summary>
    private void SpillRegisters()
    {
        for (int r = 0; r < 8; r++)
        {
            if ((_writtenRegs & (1 << r)) == 0) continue;
            RegisterAddress(r); _il.Emit(OpCodes.Ldloc, _reg[r]!); _il.Emit(OpCodes.Stind_I4);
        }
    }

    /// <summary>Pushes the run-time EIP of the instruction at byte offset off.</summary>
    private void LoadEipAt(uint off)
    {
        _il.Emit(OpCodes.Ldarg_2);
        if (off != 0) { _il.Emit(OpCodes.Ldc_I4, (int)off); _il.Emit(OpCodes.Add); }
    }

    /// <summary>
    /// Makes the architectural state precise for instruction i before a call that may fault or
    /// read it: registers, flags, EipReg, and the retired count of earlier loop iterations.
    /// </summary>
    private void Spill(int i, FlagState flags)
    {
        SpillRegisters();
        Materialize(flags);
        _il.Emit(OpCodes.Ldarg_0); LoadEipAt(_b.OffsetOf(i)); _il.Emit(OpCodes.Stfld, s_eip);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_retired);
        _il.Emit(OpCodes.Ldloc, _done); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Stfld, s_retired);
        _il.Emit(OpCodes.Ldc_I8, 0L); _il.Emit(OpCodes.Stloc, _done);
    }

    /// <summary>Leaves the method: EipReg = the value on the IL stack, count = ops of this pass that retired.</summary>
    private void ExitWithTargetOnStack(int count)
    {
        _il.Emit(OpCodes.Stloc, _t);
        SpillRegisters();
        Materialize(_flagState);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, _t); _il.Emit(OpCodes.Stfld, s_eip);
        _il.Emit(OpCodes.Ldloc, _done);
        if (count != 0) { _il.Emit(OpCodes.Ldc_I8, (long)count); _il.Emit(OpCodes.Add); }
        _il.Emit(OpCodes.Ret);
    }

    /// <summary>A cold exit after op i completed (self-modifying write): flags as they stand after op i.</summary>
    private Label ExitAfter(int i)
    {
        var label = _il.DefineLabel();
        var flags = _flagState;
        UseFlags();
        _stubs.Add(() =>
        {
            _il.MarkLabel(label);
            var saved = _flagState;
            _flagState = flags;
            LoadEipAt(_b.OffsetOf(i + 1));
            ExitWithTargetOnStack(i + 1);
            _flagState = saved;
        });
        return label;
    }

    private void EmitOp(int i)
    {
        ref DecodedOp d = ref _ops[i];
        if (!IsInline(ref d, i)) { EmitGeneric(i); return; }
        _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Stloc, _smc);
        bool writes = _extras[i].Kind != Extra.None ? EmitExtra(i, ref d, _extras[i]) : EmitInline(i, ref d);
        if (writes && i < N - 1)
        {
            // A store that went through the slow path may have hit a code page: stop after this instruction.
            _il.Emit(OpCodes.Ldloc, _smc);
            _il.Emit(OpCodes.Brtrue, ExitAfter(i));
        }
        if (i == N - 1 && !IsBranch(d.Op))
        {
            // The block ended at the page end or the length cap: fall through to the next block.
            LoadEipAt(_b.OffsetOf(N));
            ExitWithTargetOnStack(N);
        }
    }

    private void EmitGeneric(int i)
    {
        UseFlags();
        Spill(i, _flagState);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldarg_1); _il.Emit(OpCodes.Ldc_I4, i);
        _il.Emit(OpCodes.Call, s_generic);
        _il.Emit(OpCodes.Stloc, _next);
        LoadRegisters();
        LoadContext();
        _flagState = FlagState.Fields;
        var exit = _il.DefineLabel();
        if (i < N - 1)
        {
            var cont = _il.DefineLabel();
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_exitBlock); _il.Emit(OpCodes.Brtrue, exit);
            _il.Emit(OpCodes.Ldloc, _next); LoadEipAt(_b.OffsetOf(i + 1)); _il.Emit(OpCodes.Bne_Un, exit);
            EmitGuard(cont);
            _il.MarkLabel(exit);
            // Everything is in the fields already (spilled, then reloaded unchanged).
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, _next); _il.Emit(OpCodes.Stfld, s_eip);
            _il.Emit(OpCodes.Ldloc, _done); _il.Emit(OpCodes.Ldc_I8, (long)(i + 1)); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Ret);
            _il.MarkLabel(cont);
        }
        else
        {
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, _next); _il.Emit(OpCodes.Stfld, s_eip);
            _il.Emit(OpCodes.Ldloc, _done); _il.Emit(OpCodes.Ldc_I8, (long)(i + 1)); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Ret);
        }
    }
}
