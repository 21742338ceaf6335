using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Translation;

namespace Virt.Cpu;

// Engine selection and what compiled code shares with the interpreter. Cold code is always
// interpreted; a block that has run often enough is compiled by the native backend (Cpu.Native.cs,
// Translation/Native), which copies guest instructions 1:1 into host code. An IL translator
// (a DynamicMethod per block) preceded it and was removed once the native backend passed its
// tests: it lost to native code on every benchmark, by 3.4x on a Linux boot (docs/cpu.md).
public sealed partial class Cpu
{
    /// <summary>
    /// Which engine runs hot code. The interpreter always runs cold code and anything the native
    /// backend declines. Defaults to <see cref="CpuEngine.Native"/> unless the environment variable
    /// VIRT_CPU_ENGINE is "interp".
    /// </summary>
    public CpuEngine Engine
    {
        get => _native ? CpuEngine.Native : CpuEngine.Interpreter;
        set => _native = value == CpuEngine.Native;
    }

    /// <summary>
    /// Executions of a block before it is compiled (0: at its first execution). Native emission
    /// costs ~8-25 us a block, so a block is compiled once it has run 128 times (measured on the
    /// Linux smoke boot, docs/cpu.md: 8 -> 5.8 s, 32 -> 5.3 s, 64-256 -> 5.0-5.1 s, 512 -> 5.6 s).
    /// Default from VIRT_CPU_TRANSLATE_THRESHOLD when set.
    /// </summary>
    public int TranslationThreshold { get; set; } =
        int.TryParse(Environment.GetEnvironmentVariable("VIRT_CPU_TRANSLATE_THRESHOLD"), out int t) && t >= 0 ? t : 128;

    /// <summary>Time spent compiling blocks, for statistics.</summary>
    public TimeSpan TranslationTime => TimeSpan.FromTicks(Interlocked.Read(ref _translationTicks) * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    private long _translationTicks;

    /// <summary>The engine a new Cpu starts with: VIRT_CPU_ENGINE=interp or native selects that engine (default native).</summary>
    public static CpuEngine EngineFromEnvironment() =>
        ParseEngine(Environment.GetEnvironmentVariable("VIRT_CPU_ENGINE")) ?? CpuEngine.Native;

    /// <summary>The engine names of --cpu-engine and VIRT_CPU_ENGINE: native, interp.</summary>
    public static CpuEngine? ParseEngine(string? name) => name?.ToLowerInvariant() switch
    {
        "interp" => CpuEngine.Interpreter,
        "native" => CpuEngine.Native,
        _ => null,
    };

    /// <summary>What to tell a user who names an engine this virt does not have.</summary>
    public static string UnknownEngineMessage(string name) =>
        name.Equals("translate", StringComparison.OrdinalIgnoreCase)
            ? $"--cpu-engine {name}: the IL translator was removed (the native backend, the default, replaced it); expected native or interp"
            : $"--cpu-engine {name}: expected native or interp";

    /// <summary>
    /// Bit s: segment s needs no read check; bit 8+s: no write check; bit 16: SS is a 32-bit stack.
    /// The native dispatcher tests the bits native code relies on in one compare at entry and after
    /// every handler call (which may load segments).
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

    /// <summary>A block reached the threshold: compiles it, or queues it. True when b.Native is set now.</summary>
    private bool HeatUp(Block b)
    {
        b.Heat = int.MinValue; // asked once: never again, whatever the outcome
        if (b.Untranslatable || !_native || b.Transient) return false;
        if (!NativeCompileInBackground) return TranslateNative(b);
        QueueNative(b);
        return false;
    }

    // ---- Called from the native dispatcher, with the state in the fields. ----

    /// <summary>Runs instruction i of b through the reference executor; returns where execution continues.</summary>
    internal uint TranslatedGeneric(Block b, int i)
    {
        _nextEip = EipReg + b.Ops[i].Len;
        ExecuteGeneric(in b.Instructions[i]);
        return _nextEip;
    }

    /// <summary>Polled on a native loop's back edge: something needs the outer run loop.</summary>
    internal bool EventPending() =>
        _stopRequested || _nmiPending || ((_flags & Flags.IF) != 0 && InterruptController is { HasInterrupt: true });
}
