using System.Numerics;
using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Translation;

namespace Virt.Cpu;

// The translator's side of the CPU: when a block is hot it is compiled to an IL DynamicMethod
// (Translation/BlockCompiler.cs) that shares this object's state, MMU and handlers. The members
// below are what translated code calls back into; they are internal so the IL can reach them.
public sealed partial class Cpu
{
    /// <summary>
    /// Which engine runs hot code. The interpreter always runs cold code and anything the
    /// translator declines. Defaults to <see cref="CpuEngine.Native"/> unless the environment
    /// variable VIRT_CPU_ENGINE is "interp".
    /// </summary>
    public CpuEngine Engine
    {
        get => _native ? CpuEngine.Native : _translate ? CpuEngine.Translator : CpuEngine.Interpreter;
        set
        {
            _translate = value != CpuEngine.Interpreter;
            _native = value == CpuEngine.Native;
            if (!_thresholdSet) _threshold = DefaultThreshold(value);
        }
    }

    private bool _translate = EngineFromEnvironment() != CpuEngine.Interpreter;

    /// <summary>
    /// Executions of a block before it is translated (0: at its first execution). Compiling a block
    /// costs ~0.1-1 ms, so only blocks that run often enough to repay it are worth it. Default from
    /// VIRT_CPU_TRANSLATE_THRESHOLD when set.
    /// </summary>
    public int TranslationThreshold
    {
        get => _threshold;
        set { _threshold = value; _thresholdSet = true; }
    }

    private int _threshold = DefaultThreshold(EngineFromEnvironment());
    private bool _thresholdSet;

    /// <summary>Time spent compiling blocks (IL emission and the JIT), for statistics.</summary>
    public TimeSpan TranslationTime => TimeSpan.FromTicks(Interlocked.Read(ref _translationTicks) * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    private long _translationTicks;

    /// <summary>
    /// IL costs ~0.1-1 ms a block, so only blocks that run ~500 times repay it; native emission costs
    /// ~25 us, so a block is translated once it has run 128 times (measured on the Linux smoke boot,
    /// docs/cpu.md: 8 -> 5.8 s, 32 -> 5.3 s, 64-256 -> 5.0-5.1 s, 512 -> 5.6 s).
    /// </summary>
    private static int DefaultThreshold(CpuEngine engine) =>
        int.TryParse(Environment.GetEnvironmentVariable("VIRT_CPU_TRANSLATE_THRESHOLD"), out int t) && t >= 0 ? t
        : engine == CpuEngine.Native ? 128 : 500;


    /// <summary>The engine a new Cpu starts with: VIRT_CPU_ENGINE=interp, translate or native selects that engine (default native).</summary>
    public static CpuEngine EngineFromEnvironment() =>
        ParseEngine(Environment.GetEnvironmentVariable("VIRT_CPU_ENGINE")) ?? CpuEngine.Native;

    /// <summary>The engine names of --cpu-engine and VIRT_CPU_ENGINE: interp, translate, native.</summary>
    public static CpuEngine? ParseEngine(string? name) => name?.ToLowerInvariant() switch
    {
        "interp" => CpuEngine.Interpreter,
        "translate" => CpuEngine.Translator,
        "native" => CpuEngine.Native,
        _ => null,
    };

    /// <summary>
    /// Bit s: segment s needs no read check; bit 8+s: no write check; bit 16: SS is a 32-bit stack.
    /// Translated code tests the bits it relies on in one compare at entry and after every call
    /// into the generic executor (which may load segments).
    /// </summary>
    internal int _fastSegMask;

    internal const int FastStack32 = 1 << 16;

    private void UpdateFastSegMask()
    {
        int m = 0;
        for (int i = 0; i < 6; i++)
        {
            if (!_segCheckRead[i]) m |= 1 << i;
            if (!_segCheckWrite[i]) m |= 1 << (8 + i);
        }
        if (Seg[SegmentIndex.SS].Big) m |= FastStack32;
        _fastSegMask = m;
    }

    /// <summary>
    /// Compile hot blocks to IL on a thread-pool thread while this VCPU keeps interpreting them: the
    /// compiled code is picked up at the block's next execution. Off: compile on the VCPU thread
    /// at once, which makes runs reproducible instruction for instruction (tests). Default on
    /// unless VIRT_CPU_TRANSLATE_SYNC=1.
    /// </summary>
    public bool TranslateInBackground { get; set; } = Environment.GetEnvironmentVariable("VIRT_CPU_TRANSLATE_SYNC") != "1";

    /// <summary>
    /// Emit native code on the compile thread while this VCPU keeps interpreting the block (placed
    /// between slices once ready). Off by default: native emission costs ~25 us a block, and on the
    /// Linux smoke boot (docs/cpu.md) compiling in the background bought nothing on an idle 2-core
    /// machine (3.86 s against 3.91 s, medians of 3) and lost on a loaded one (4.54 s against 4.41 s
    /// with one busy process), where the compile thread waits for a core while the block stays
    /// interpreted. On from VIRT_NATIVE_COMPILE=background.
    /// </summary>
    public bool NativeCompileInBackground { get; set; } = Environment.GetEnvironmentVariable("VIRT_NATIVE_COMPILE") == "background";

    private long _blocksTranslated;

    /// <summary>Blocks compiled so far (statistics and tests).</summary>
    public long BlocksTranslated => Interlocked.Read(ref _blocksTranslated);

    /// <summary>A block reached the threshold: compiles it, or queues it. True when b.Code is set now.</summary>
    private bool HeatUp(Block b)
    {
        b.Heat = int.MinValue; // asked once: never again, whatever the outcome
        if (b.Untranslatable || !_translate || b.Transient) return false;
        if (b.SecondPage != 0 && !_native) return false; // the IL translator's blocks lie within one page
        if (_native)
        {
            if (!NativeCompileInBackground) return TranslateNative(b);
            QueueNative(b);
            return false;
        }
        if (TranslateInBackground)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Cpu.Translate(state.Block), (Cpu: this, Block: b), preferLocal: false);
            return false;
        }
        Translate(b);
        return b.Code != null;
    }

    /// <summary>
    /// Compiles b and forces the JIT (a call with left = -1 runs nothing). Touches only the block
    /// and counters, so it may run on any thread; b.Code is published with one reference store.
    /// </summary>
    private void Translate(Block b)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        var code = BlockCompiler.Compile(b);
        if (code != null) code(this, b, 0, -1);
        Interlocked.Add(ref _translationTicks, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        if (code == null) { b.Untranslatable = true; return; }
        Interlocked.Increment(ref _blocksTranslated);
        Volatile.Write(ref b.Code, code);
    }

    // ---- Called from translated code. State is spilled to the fields before each call. ----

    /// <summary>Runs instruction i of b through the reference executor; returns where execution continues.</summary>
    internal uint TranslatedGeneric(Block b, int i)
    {
        _nextEip = EipReg + b.Ops[i].Len;
        ExecuteGeneric(in b.Instructions[i]);
        return _nextEip;
    }

    /// <summary>INC/DEC keep CF: freezes the current CF into EFLAGS (the lazy state is in the fields).</summary>
    internal void FreezeCarry()
    {
        if (_lfOp is LazyOp.None or LazyOp.Inc or LazyOp.Dec) return;
        _flags = (_flags & ~Flags.CF) | (LazyCF() ? Flags.CF : 0);
    }

    /// <summary>Polled on a translated loop's back edge: something needs the outer run loop.</summary>
    internal bool EventPending() =>
        _stopRequested || _nmiPending || ((_flags & Flags.IF) != 0 && InterruptController is { HasInterrupt: true });

    /// <summary>Raises #GP(0) for a near branch beyond the CS limit (state already spilled).</summary>
    internal void RaiseNearTargetFault(uint target) => CheckNearTarget(target);

    /// <summary>PF of a result: even number of set bits in the low byte.</summary>
    internal static bool ParityEven(uint v) => (BitOperations.PopCount(v & 0xFF) & 1) == 0;
}
