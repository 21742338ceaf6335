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
    /// <summary>Bytes of executable memory per VCPU; full means every native block is dropped and the cache starts again.</summary>
    public const int NativeCodeCacheBytes = 32 << 20;

    /// <summary>Back edges a native loop may take before it returns to the dispatcher (events, budget, GC).</summary>
    private const int NativeMaxPasses = 64;

    private bool _native = EngineFromEnvironment() == CpuEngine.Native;
    private CodeCache? _codeCache;
    private NativeFrame* _frame;
    private readonly List<Block> _nativeBlocks = new();
    private long _nativeCalls, _nativeInterpretExits, _nativeBlocksCompiled, _nativeCompileTicks;
    private readonly List<long> _nativeCompileSamples = new();
    // By Iced mnemonic: the op native code stopped before (left to the interpreter), and TLB-miss style exits.
    private readonly long[] _nativeStops = new long[Enum.GetValues<Iced.Intel.Mnemonic>().Length];
    private readonly long[] _nativeMisses = new long[Enum.GetValues<Iced.Intel.Mnemonic>().Length];

    /// <summary>What the engine did, for the run's report (table and JSON).</summary>
    public EngineStatistics EngineStats => new(
        Engine.ToString().ToLowerInvariant(), BlocksTranslated, TranslationTime.TotalMilliseconds + _nativeCompileTicks * 1000.0 / System.Diagnostics.Stopwatch.Frequency,
        MedianCompileMicros(), _nativeCalls, _nativeInterpretExits, _codeCache?.Used ?? 0, _codeCache?.Flushes ?? 0,
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

    /// <summary>Compiles b to host code (on the VCPU thread: the cache is this thread's alone). True when b.Code is set.</summary>
    private bool TranslateNative(Block b)
    {
        if (Unsafe.SizeOf<TlbEntry>() != 24) { b.Untranslatable = true; return false; } // the emitter's TLB stride
        _codeCache ??= new CodeCache(NativeCodeCacheBytes);
        if (_frame == null) _frame = (NativeFrame*)NativeMemory.AllocZeroed((nuint)sizeof(NativeFrame));
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        NativeBlockCompiler.Emitted? code = NativeBlockCompiler.Emit(b, _codeCache.NextAddress);
        if (code is not { } e) { b.Untranslatable = true; return false; }
        byte* entry = _codeCache.TryAllocate(e.Code);
        if (entry == null)
        {
            FlushNativeCode();
            code = NativeBlockCompiler.Emit(b, _codeCache.NextAddress);
            entry = _codeCache.TryAllocate(code!.Value.Code);
            if (entry == null) { b.Untranslatable = true; return false; }
            e = code.Value;
        }
        var nb = new NativeBlockCompiler.NativeBlock(entry, e.Covered, e.SegmentMask, e.Code.Length);
        b.Code = (cpu, blk, eip, left) => cpu.RunNative(blk, nb, eip, left);
        _nativeBlocks.Add(b);
        _nativeBlocksCompiled++;
        long dt = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        _nativeCompileTicks += dt;
        if (_nativeCompileSamples.Count < 100_000) _nativeCompileSamples.Add(dt);
        Interlocked.Increment(ref _blocksTranslated);
        return true;
    }

    /// <summary>The code cache is full: every native block goes back to being interpreted (and may heat up again).</summary>
    private void FlushNativeCode()
    {
        foreach (Block b in _nativeBlocks)
        {
            b.Code = null;
            b.Heat = 0;
        }
        _nativeBlocks.Clear();
        _codeCache!.Reset();
    }

    /// <summary>
    /// Runs a native block under the TranslatedCode contract: -1 when its entry assumptions do not
    /// hold (CS, DS, ES, SS flat with base 0 and a 4 GiB CS limit; no limit checks for the segments
    /// it addresses), otherwise the instructions retired that the caller must count.
    /// </summary>
    private long RunNative(Block b, NativeBlockCompiler.NativeBlock nb, uint startEip, long left)
    {
        if (left < 0) return 0;
        if ((_fastSegMask & nb.SegmentMask) != nb.SegmentMask
            || (Seg[SegmentIndex.CS].Base | Seg[SegmentIndex.DS].Base | Seg[SegmentIndex.ES].Base | Seg[SegmentIndex.SS].Base) != 0
            || Seg[SegmentIndex.CS].Limit != 0xFFFF_FFFF)
            return -1;
        NativeFrame* f = _frame;
        uint[] r = R;
        for (int i = 0; i < 8; i++) f->R[i] = r[i];
        f->Eflags = (GetEflags() & Flags.Arith) | Flags.Reserved1;
        f->StartEip = startEip;
        f->Passes = 0;
        int n = b.Ops.Length;
        f->MaxPasses = (int)Math.Min(NativeMaxPasses, left / n);
        f->TlbRead = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_tlbR));
        f->TlbWrite = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_tlbW));
        f->FsBase = Seg[SegmentIndex.FS].Base;
        f->GsBase = Seg[SegmentIndex.GS].Base;
        _nativeCalls++;
        ((delegate* unmanaged[SuppressGCTransition]<NativeFrame*, void>)nb.Entry)(f);
        for (int i = 0; i < 8; i++) r[i] = f->R[i];
        SetArithFlags(f->Eflags);
        long passes = (long)f->Passes * n;
        EipReg = f->NextEip;
        if ((NativeExit)f->Exit != NativeExit.Interpret)
        {
            if (f->OpsDone == nb.Covered && nb.Covered < n) _nativeStops[(int)b.Instructions[nb.Covered].Mnemonic]++;
            return passes + f->OpsDone;
        }

        // One op the native code could not finish (TLB miss, page crossing, MMIO, a code page):
        // the reference executor runs it. Whole passes are counted first, so a fault it raises is
        // counted as for an interpreted block (RetiredBeforeFault walks from the block start).
        _nativeInterpretExits++;
        _retired += passes;
        int op = f->OpsDone;
        _nativeMisses[(int)b.Instructions[op].Mnemonic]++;
        EipReg = TranslatedGeneric(b, op);
        return op + 1;
    }
}

/// <summary>
/// What the execution engine did: blocks translated and the time it took; for the native backend
/// also its calls, the ops it left to the interpreter (stops: the first op it cannot copy; misses:
/// ops sent to the interpreter by a TLB miss, page crossing, MMIO or code-page write), and the code cache.
/// </summary>
public sealed record EngineStatistics(string Engine, long BlocksTranslated, double TranslationMillis, double MedianNativeCompileMicros,
    long NativeCalls, long NativeInterpretExits, int CodeCacheBytes, int CodeCacheFlushes,
    IReadOnlyList<KeyValuePair<string, long>> NativeStops, IReadOnlyList<KeyValuePair<string, long>> NativeMisses);
