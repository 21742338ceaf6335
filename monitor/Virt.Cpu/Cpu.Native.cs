using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Virt.Cpu.Execution;
using Virt.Cpu.Mmu;
using Virt.Cpu.State;
using Virt.Cpu.Translation;
using Virt.Cpu.Translation.Native;

namespace Virt.Cpu;

// The native backend's side of the CPU (Translation/Native): blocks compiled to x86-64 host code
// in this VCPU's code cache, entered through an unmanaged function pointer with no GC transition.
// The state crosses through one NativeFrame in unmanaged memory: filled before the call, read after.
public sealed unsafe partial class Cpu
{
    /// <summary>
    /// Bytes of executable memory for this VCPU's native code (default 32 MiB); full means every
    /// native block is dropped and the cache starts again. Set before the first block is translated.
    /// </summary>
    public int NativeCodeCacheBytes { get; set; } = 32 << 20;

    /// <summary>
    /// Native TLB lookups and limit checks with BMI2's flagless shifts (default where the host has
    /// BMI2), so the guest's flags never need saving around them; off: PUSHFQ/POPFQ around each.
    /// </summary>
    public bool NativeFlaglessLookups { get; set; } = System.Runtime.Intrinsics.X86.Bmi2.IsSupported;

    /// <summary>
    /// Copied instructions find their operand's TLB entry through the page predictor (default on;
    /// VIRT_NATIVE_PREDICT=0 turns it off, to measure what it gains on a workload: docs/cpu.md).
    /// </summary>
    public bool NativePagePredictor { get; set; } = Environment.GetEnvironmentVariable("VIRT_NATIVE_PREDICT") != "0";

    /// <summary>
    /// Instructions one native call may run (linked blocks and loops included) before it returns to
    /// the dispatcher, which serves events, the budget and the GC there: some tens of microseconds of
    /// guest code, which bounds how long a stop request or a garbage collection waits. At 8,192 a
    /// booting Linux returned 776,000 times for the count alone; at 65,536, 471,000 times, and
    /// reached its marker about 4% sooner (docs/cpu.md).
    /// </summary>
    private const long NativeMaxInstructions = 65536;

    private bool _native = EngineFromEnvironment() == CpuEngine.Native;

    /// <summary>
    /// Where each compiled block's guest code and host code are written, disassembled (a file, from
    /// VIRT_NATIVE_DUMP), to read what the backend made of the hot loops; null (the default): nowhere.
    /// </summary>
    public string? NativeDumpPath { get; set; } = Environment.GetEnvironmentVariable("VIRT_NATIVE_DUMP");
    private CodeCache? _codeCache;
    private NativeFrame* _frame;
    private byte[]? _frameMemory;
    private NativeJumpTable? _jumpTable;
    private readonly List<NativeBlockCompiler.NativeBlock> _nativeBlocks = new();   // by NativeBlock.Id
    private long _nativeCalls, _nativeInterpretExits, _nativeLinks;
    private long _nativeInstructions, _nativeCountdownExits, _nativeDispatchMisses, _nativeDeclined, _nativeHandlerCalls;
    // The linkable exit the last native call left through, waiting for its target to be entered.
    private NativeBlockCompiler.NativeBlock? _linkFrom;
    private int _linkStub;
    private readonly List<long> _nativeCompileSamples = new();
    // By Iced mnemonic: ops native code left to the interpreter's handlers (or stopped before), and TLB-miss style exits.
    private readonly long[] _nativeStops = new long[Enum.GetValues<Iced.Intel.Mnemonic>().Length];
    private readonly long[] _nativeMisses = new long[Enum.GetValues<Iced.Intel.Mnemonic>().Length];

    /// <summary>What the engine did, for the run's report (table and JSON).</summary>
    public EngineStatistics EngineStats => new(
        Engine.ToString().ToLowerInvariant(), BlocksTranslated, TranslationTime.TotalMilliseconds,
        MedianCompileMicros(), _nativeCalls, _nativeInstructions, _nativeHandlerCalls, _nativeInterpretExits, _nativeCountdownExits, _nativeDispatchMisses, _nativeDeclined,
        _codeCache?.Used ?? 0, _codeCache?.Flushes ?? 0, _nativeLinks,
        Top(_nativeStops), Top(_nativeMisses));

    private static IReadOnlyList<KeyValuePair<string, long>> Top(long[] counts) =>
        counts.Select((c, i) => new KeyValuePair<string, long>(((Iced.Intel.Mnemonic)i).ToString().ToLowerInvariant(), c))
            .Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).Take(12).ToList();

    private double MedianCompileMicros()
    {
        if (_nativeCompileSamples.Count == 0) return 0;
        var s = _nativeCompileSamples.ToArray();
        Array.Sort(s);
        return s[s.Length / 2] * 1e6 / System.Diagnostics.Stopwatch.Frequency;
    }

    /// <summary>Compiles b to host code here and now, and places it. True when b.Native is set.</summary>
    private bool TranslateNative(Block b)
    {
        if (Unsafe.SizeOf<TlbEntry>() != 32) { b.Untranslatable = true; return false; } // the emitter's TLB stride
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        uint linear = EipReg; // native code runs only with CS base 0
        NativeBlockCompiler.Emitted? code = NativeBlockCompiler.Emit(b, linear, NativeFlaglessLookups, NativeHotEntry(b, linear), NativePagePredictor);
        return PlaceNative(b, linear, code, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
    }

    /// <summary>
    /// Queues b for the compile thread (<see cref="NativeCompileWorker"/>) and goes on interpreting
    /// it; the code is placed between slices once it is ready (<see cref="PlaceCompiledNative"/>).
    /// </summary>
    private void QueueNative(Block b)
    {
        if (Unsafe.SizeOf<TlbEntry>() != 32) { b.Untranslatable = true; return; }
        uint linear = EipReg;
        bool flagless = NativeFlaglessLookups, predict = NativePagePredictor;
        int hotEntry = NativeHotEntry(b, linear);
        NativeCompileWorker.Post(() =>
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            NativeBlockCompiler.Emitted? code;
            try
            {
                code = NativeBlockCompiler.Emit(b, linear, flagless, hotEntry, predict);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                code = null; // an encoding the emitter did not foresee: the block stays interpreted
            }
            _nativeCompiled.Enqueue((b, linear, code, System.Diagnostics.Stopwatch.GetTimestamp() - t0));
            Interlocked.Increment(ref _nativeCompiledCount);
        });
    }

    // Code the compile thread finished, waiting for this VCPU to place it (the code cache is its alone).
    private readonly System.Collections.Concurrent.ConcurrentQueue<(Block Block, uint Linear, NativeBlockCompiler.Emitted? Code, long Ticks)> _nativeCompiled = new();
    private int _nativeCompiledCount;

    /// <summary>Places what the compile thread finished (the run loop calls it between slices while the count is not zero).</summary>
    private void PlaceCompiledNative()
    {
        while (_nativeCompiled.TryDequeue(out var done))
        {
            Interlocked.Decrement(ref _nativeCompiledCount);
            // Dropped meanwhile (a write to its page), or an alias compiled it already: nothing to place.
            if (done.Block.Valid && done.Block.Native == null) PlaceNative(done.Block, done.Linear, done.Code, done.Ticks);
        }
    }

    /// <summary>Copies emitted code into the cache (flushing it when full), gives it its id and makes it b's code.</summary>
    private bool PlaceNative(Block b, uint linear, NativeBlockCompiler.Emitted? code, long compileTicks)
    {
        if (code is not { } e) { b.Untranslatable = true; return false; }
        _codeCache ??= new CodeCache(NativeCodeCacheBytes);
        if (_frame == null)
        {
            // A pinned array: a fixed address for native code, freed with the CPU.
            // The frame and, after it, the page predictor's slots (NativeFrame.OffPredictor).
            _frameMemory = GC.AllocateArray<byte>(NativeFrame.AllocationBytes + 64, pinned: true);
            _frame = (NativeFrame*)(((nint)Unsafe.AsPointer(ref _frameMemory[0]) + 63) & ~(nint)63);
        }
        _jumpTable ??= new NativeJumpTable();
        byte* entry = _codeCache.TryAllocate(e.Code);
        if (entry == null)
        {
            FlushNativeCode();
            entry = _codeCache.TryAllocate(e.Code);
            if (entry == null) { b.Untranslatable = true; return false; }
        }
        int id = _nativeBlocks.Count;
        _codeCache.WriteInt32(entry + e.BlockIdOffset, id);
        var nb = new NativeBlockCompiler.NativeBlock(b, entry, entry + e.ChainEntryOffset, e.Covered, linear, id, e.Sites, e.ResumeOffsets);
        b.Native = nb;
        _nativeBlocks.Add(nb);
        if (NativeDumpPath is { } dump) NativeCodeDump.Append(dump, b, linear, e, (ulong)entry, _codeCache.OffsetOf(entry));
        _translationTicks += compileTicks;
        if (_nativeCompileSamples.Count < 100_000) _nativeCompileSamples.Add(compileTicks);
        Interlocked.Increment(ref _blocksTranslated);
        return true;
    }

    /// <summary>The code cache is full: every native block goes back to being interpreted (and may heat up again).</summary>
    private void FlushNativeCode()
    {
        foreach (var nb in _nativeBlocks)
        {
            nb.Block.Native = null;
            nb.Block.Heat = 0;
        }
        _nativeBlocks.Clear();
        _linkFrom = null;
        _jumpTable?.Clear();
        _codeCache!.Reset();
    }

    /// <summary>The highest offset native code may access through a segment, or -1 when the interpreter must check every access.</summary>
    private long NativeLimit(int seg, bool write)
    {
        if (!(write ? _segCheckWrite[seg] : _segCheckRead[seg])) return 0xFFFF_FFFF;
        ref SegmentRegister s = ref Seg[seg];
        if (!ProtectedMode || V86Mode || !s.Present || s.IsExpandDown || (write ? !s.Writable : !s.Readable)) return -1;
        return s.Limit;
    }

    /// <summary>A mapping or code changed: no indirect branch may reach a block through a stale entry.</summary>
    private void ClearNativeJumpTable(bool keepGlobal)
    {
        if (keepGlobal) _jumpTable?.ClearNotGlobal();
        else _jumpTable?.Clear();
    }

    /// <summary>
    /// The last native call left through a linkable exit and its target now runs natively: patch
    /// the exit's JMP to the target's chain entry. Only within one guest page (so one physical page
    /// and one linear page: a write to it drops both blocks), and for the same linear alias.
    /// </summary>
    private void TryLink(NativeBlockCompiler.NativeBlock to, uint startEip)
    {
        var from = _linkFrom!;
        _linkFrom = null;
        NativeBlockCompiler.ChainSite site = from.Sites[_linkStub];
        if (from.Linked[_linkStub] || site.PatchOffset < 0 || site.Target != startEip) return; // (the caller checked to.LinearStart == startEip)
        // An instruction across a page end links on into its second page, which it shares with the
        // block there; a write to its second page drops the blocks of its first page too (Cpu.Blocks.cs
        // InvalidateCodePage), so a link into it never outlives it.
        uint fromPage = (from.LinearStart >> 12) + (from.Block.SecondPage != 0 ? 1u : 0u);
        if ((to.LinearStart >> 12) != fromPage || !from.Block.Valid || !to.Block.Valid) return;
        _codeCache!.PatchJump(from.Entry + site.PatchOffset, to.ChainEntry);
        from.Linked[_linkStub] = true;
        _nativeLinks++;
    }

    /// <summary>
    /// Runs a native block (a loop back to its own start stays inside) with EipReg = startEip, at
    /// most left instructions (at least the block's op count): -1 when the entry assumptions every
    /// native block shares do not hold (NativeBlockCompiler.FlatSegments, CS, DS, ES, SS with base 0,
    /// a 4 GiB CS limit, no single-step or shadow), otherwise the instructions retired that the caller must count.
    /// </summary>
    private long RunNative(Block b, NativeBlockCompiler.NativeBlock nb, uint startEip, long left)
    {
        if (startEip != nb.LinearStart)
        {
            // The same physical code at another linear address (Linux runs its kernel first at its
            // physical address, then mapped high): the EIPs are constants, so compile it again for
            // this alias, a few times at most.
            if (++b.NativeAliases > 4 || !TranslateNative(b)) return -1;
            return RunNative(b, b.Native!, startEip, left);
        }
        if ((_fastSegMask & NativeBlockCompiler.FlatSegments) != NativeBlockCompiler.FlatSegments
            || (_flags & Flags.TF) != 0 || _shadow // single-step and interrupt shadows: one instruction at a time, interpreted
            || (Seg[SegmentIndex.CS].Base | Seg[SegmentIndex.DS].Base | Seg[SegmentIndex.ES].Base | Seg[SegmentIndex.SS].Base) != 0
            || Seg[SegmentIndex.CS].Limit != 0xFFFF_FFFF)
        {
            _nativeDeclined++;
            return -1;
        }
        if (_linkFrom != null) TryLink(nb, startEip);
        // Whether the code's page is mapped global (the fetch just filled its TLB entry): such
        // entries survive CR3 writes, like the TLB's. An instruction across a page end depends on
        // two mappings: never global, and an INVLPG of either page drops it.
        ref TlbEntry code = ref _tlbR[(startEip >> 12) & TlbMask];
        bool straddles = b.SecondPage != 0;
        _jumpTable!.Add(startEip, nb.ChainEntry, global: !straddles && code.Tag == startEip >> 12 && code.Global, user: Cpl == 3,
            lastPage: straddles ? (startEip >> 12) + 1 : startEip >> 12);
        NativeFrame* f = _frame;
        uint entryFlags = _flags;
        LoadFrame(f);
        f->Budget = Math.Min(left, NativeMaxInstructions);
        _nativeCalls++;
        byte* entry = nb.Entry;
        while (true)
        {
            ((delegate* unmanaged[SuppressGCTransition]<NativeFrame*, void>)entry)(f);
            StoreFrame(f);
            EipReg = f->NextEip;
            if (f->InlinedCalls != 0)
            {
                InlinedHotCalls += f->InlinedCalls;
                NativeInlinedHotCalls += f->InlinedCalls;
                f->InlinedCalls = 0;
            }
            if (f->Halt != 0)
            {
                // An inlined irq_enable_and_halt (Cpu.CallTable.cs): halted after the call site, as the interpreter's inline form.
                f->Halt = 0;
                _halted = true;
                _exitBlock = true;
            }
            NativeBlockCompiler.NativeBlock last = _nativeBlocks[f->BlockId];
            int op = f->OpsDone;
            long linked = f->Budget - f->Remaining;
            _nativeInstructions += linked + op;
            var exit = (NativeExit)f->Exit;
            if (f->StiShadow != 0)
            {
                // An STI set IF: the instruction after it runs in the interrupt shadow.
                _shadow = true;
                f->StiShadow = 0;
            }
            // STI or POPF set IF or changed TF: the run loop must see it (an interrupt, single-step).
            if ((_flags & ~entryFlags & Flags.IF) != 0 || ((_flags ^ entryFlags) & Flags.TF) != 0 || _shadow) _exitBlock = true;
            if (exit == NativeExit.Done)
            {
                if (f->Remaining < MaxBlockOps && op == 0) _nativeCountdownExits++;
                else if (op == 0 && f->ExitStub < 0) _nativeDispatchMisses++;
                if (f->ExitStub >= 0) { _linkFrom = last; _linkStub = f->ExitStub; }
                else if (op == last.Covered && last.Covered < last.Block.Ops.Length) _nativeStops[(int)last.Block.Instructions[op].Mnemonic]++;
                return linked + op;
            }

            // An op native code leaves to the interpreter, in the block that left: the ops of the
            // blocks before it are counted first and the fault bookkeeping points at that block, so a
            // fault the op raises is counted as for an interpreted block (RetiredBeforeFault walks
            // from the block's start to EipReg).
            _retired += linked;
            f->Budget = f->Remaining;
            _executing = last.Block;
            _blockStartEip = last.LinearStart;
            Iced.Intel.Mnemonic mnemonic = last.Block.Instructions[op].Mnemonic;
            if (exit == NativeExit.Interpret)
            {
                // TLB miss, page crossing, MMIO or a code page: the op runs here, the dispatcher goes on.
                _nativeInterpretExits++;
                _nativeMisses[(int)mnemonic]++;
                EipReg = TranslatedGeneric(last.Block, op);
                return op + 1;
            }

            // NativeExit.Handler: plex86's direct handler call. The op runs in the interpreter's
            // handler on the state native code left; native code goes on at the op's resume point
            // unless the op changed what the code relies on, branched, or made an event deliverable.
            _nativeHandlerCalls++;
            _nativeStops[(int)mnemonic]++;
            TlbEntry[] tlb = _tlbR;
            int segMask = _fastSegMask;
            uint watched = _flags & (Flags.IF | Flags.TF);
            uint expected = EipReg + last.Block.Ops[op].Len;
            uint next = TranslatedGeneric(last.Block, op);
            bool goOn = next == expected && !_exitBlock && !_halted && !_shadow && ReferenceEquals(tlb, _tlbR) && segMask == _fastSegMask
                && (_flags & (Flags.IF | Flags.TF)) == watched && !EventPending() && last.Resume[op] != 0;
            EipReg = next;
            if (!goOn) return op + 1;
            LoadFrame(f);
            entry = (byte*)last.Resume[op];
        }
    }

    /// <summary>The frame's registers and flags back into the CPU (after every return from native code).</summary>
    private void StoreFrame(NativeFrame* f)
    {
        uint[] r = R;
        for (int i = 0; i < 8; i++) r[i] = f->R[i];
        SetEflags((_flags & NativeKeptFlags) | f->SysFlags | (f->IfFlag != 0 ? Flags.IF : 0) | (f->Eflags & Flags.Arith));
    }

    /// <summary>EFLAGS bits native code never changes: kept in the CPU's field across a native run.</summary>
    private const uint NativeKeptFlags = Flags.RF | Flags.VM;

    /// <summary>The CPU's state into the frame: registers, flags, privilege, TLB, FS/GS, the jump table's generation.</summary>
    private void LoadFrame(NativeFrame* f)
    {
        uint[] r = R;
        for (int i = 0; i < 8; i++) f->R[i] = r[i];
        uint flags = GetEflags();
        f->Eflags = (flags & Flags.Arith) | Flags.Reserved1;
        f->SysFlags = flags & ~(Flags.Arith | Flags.IF | NativeKeptFlags);
        f->IfFlag = (byte)((flags & Flags.IF) != 0 ? 1 : 0);
        bool protectedMode = ProtectedMode && !V86Mode;
        f->IfWritable = (byte)(!protectedMode || Cpl <= Iopl ? 1 : 0);
        f->Cpl0 = (byte)(protectedMode && Cpl == 0 ? 1 : 0);
        f->StiShadow = 0;
        f->DfClear = (byte)((flags & Flags.DF) == 0 ? 1 : 0);
        long perInstruction = TscTicksPerInstruction;
        f->TscInline = (byte)(perInstruction > 0 && ((Cr4 & ControlBits.CR4_TSD) == 0 || (Cpl == 0 && !V86Mode)) ? 1 : 0);
        f->TscPerInstruction = perInstruction;
        f->TscBase = perInstruction > 0 ? ReadTsc() : 0;
        f->TlbRead = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_tlbR));
        f->TlbWrite = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_tlbW));
        f->FsBase = Seg[SegmentIndex.FS].Base;
        f->GsBase = Seg[SegmentIndex.GS].Base;
        f->FsReadLimit = NativeLimit(SegmentIndex.FS, write: false);
        f->FsWriteLimit = NativeLimit(SegmentIndex.FS, write: true);
        f->GsReadLimit = NativeLimit(SegmentIndex.GS, write: false);
        f->GsWriteLimit = NativeLimit(SegmentIndex.GS, write: true);
        f->CallTablePage = _inlineHotCalls ? (uint)(_msrCallTable >> 12) : TlbEntry.Invalid;
        f->JumpTable = _jumpTable!.Address;
        f->JumpGeneration = _jumpTable.KeyFor(Cpl == 3);
    }
}

/// <summary>
/// What the execution engine did: blocks translated and the time it took; for the native backend
/// also its calls, the ops it left to the interpreter (handler calls by instruction, and the first op a block cannot cover; misses:
/// ops sent to the interpreter by a TLB miss, page crossing, MMIO or code-page write), and the code cache.
/// </summary>
public sealed record EngineStatistics(string Engine, long BlocksTranslated, double TranslationMillis, double MedianNativeCompileMicros,
    long NativeCalls, long NativeInstructions, long NativeHandlerCalls, long NativeInterpretExits, long NativeCountdownExits, long NativeDispatchMisses, long NativeDeclined,
    int CodeCacheBytes, int CodeCacheFlushes, long NativeLinks,
    IReadOnlyList<KeyValuePair<string, long>> NativeStops, IReadOnlyList<KeyValuePair<string, long>> NativeMisses);
