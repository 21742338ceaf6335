using System.Collections.Concurrent;
using System.Text;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Vectors;

/// <summary>What one vector file produced.</summary>
public sealed class FileResult
{
    public required string Key { get; init; }
    public int Total { get; set; }
    public int Passed { get; set; }
    public int Failed { get; set; }
    /// <summary>The first few failures: test name, bytes and the differences.</summary>
    public List<string> Failures { get; } = new();
    public Dictionary<string, int> Skipped { get; } = new();
    /// <summary>Per mask reason: tests it applied to, and of those how many differed in the masked bits.</summary>
    public Dictionary<string, (int Applied, int Differed)> Masked { get; } = new();
}

/// <summary>
/// Runs 80286 real-mode vectors on the i686 core: 16 MiB of RAM with nothing in the VGA hole, A20
/// on (real-mode addresses stop at 10FFEF, so the 286's 24-bit wrap never comes into play), the
/// registers and RAM of <c>initial</c>, then execution from CS:IP to the HLT after the instruction
/// (or the HLT that starts the exception handler), and a comparison with <c>final</c>.
/// </summary>
internal static class VectorRunner
{
    // Machines are costly (a 16 MiB mapping and page tables): reuse them across files.
    private static readonly ConcurrentBag<TestMachine> s_pool = new();
    private static readonly Lazy<HashSet<string>> s_revoked = new(VectorFiles.Revoked);
    private static readonly string[] s_regNames = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
    private static readonly (string Name, int Seg)[] s_segNames = [("es", SegmentIndex.ES), ("cs", SegmentIndex.CS), ("ss", SegmentIndex.SS), ("ds", SegmentIndex.DS)];
    private const int MaxFailuresReported = 5;

    public static FileResult RunFile(string key) => RunCases(key, VectorFiles.Load(key));

    /// <summary>
    /// Runs cases in order on a pooled machine. A case that fails may leave anything behind (bytes
    /// written outside its expectation, which the cleanup cannot know, or a state the reset does
    /// not reach), so after a failure the machine is dropped and the next case gets a fresh one:
    /// each failure is counted once, never again in the cases that follow it.
    /// </summary>
    public static FileResult RunCases(string key, IReadOnlyList<VectorCase> tests)
    {
        var result = new FileResult { Key = key, Total = tests.Count };
        var m = TakeMachine();
        try
        {
            var masks = new List<VectorMask>();
            foreach (var t in tests)
            {
                var code = new byte[t.Bytes.Length];
                for (int i = 0; i < code.Length; i++) code[i] = (byte)t.Bytes[i];
                var dec = Iced.Intel.Decoder.Create(16, new ByteArrayCodeReader(code));
                dec.Decode(out Instruction ins);
                string? skip = VectorRules.SkipReason(key, t, in ins, s_revoked.Value);
                if (skip != null)
                {
                    result.Skipped[skip] = result.Skipped.GetValueOrDefault(skip) + 1;
                    continue;
                }
                VectorRules.Masks(key, t, in ins, masks);
                string? diff = RunOne(m, t, masks, result, out string? lateSkip);
                if (lateSkip != null) result.Skipped[lateSkip] = result.Skipped.GetValueOrDefault(lateSkip) + 1;
                else if (diff == null) result.Passed++;
                else
                {
                    if (++result.Failed <= MaxFailuresReported) result.Failures.Add($"#{t.Idx} {t.Name} [{Hex(t.Bytes)}]: {diff}");
                    m.Dispose();
                    m = NewMachine();
                }
            }
        }
        finally
        {
            s_pool.Add(m);
        }
        return result;
    }

    private static TestMachine TakeMachine() => s_pool.TryTake(out var m) ? m : NewMachine();

    private static TestMachine NewMachine()
    {
        var m = new TestMachine();
        m.Memory.MapRam(0, 16 << 20);
        return m;
    }

    private static string Hex(int[] bytes) => string.Join(' ', bytes.Select(b => b.ToString("X2")));

    /// <summary>Runs one test; null when it matched.</summary>
    private static string? RunOne(TestMachine m, VectorCase t, List<VectorMask> masks, FileResult result, out string? lateSkip)
    {
        lateSkip = null;
        var cpu = m.Cpu;
        var mem = m.Memory;
        var init = t.Initial.Regs;
        cpu.Reset();
        FlatLoader.EnterRealMode(cpu, (ushort)init["cs"], (ushort)init["ip"]);
        var s = cpu.State;
        for (int i = 0; i < 8; i++) s[i] = (uint)init[s_regNames[i]];
        foreach (var (name, seg) in s_segNames)
            s.SetSegment(seg, SegmentRegister.RealMode((ushort)init[name], seg == SegmentIndex.CS ? (ushort)0x9B : (ushort)0x93));
        // Flag bits 12-15 of the initial state are random (README): a 286 in real mode keeps them 0.
        s.Eflags = ((uint)init["flags"] & 0x0FFF) | Flags.Reserved1;
        Span<byte> one = stackalloc byte[1];
        foreach (var p in t.Initial.Ram)
        {
            one[0] = (byte)p[1];
            mem.Load((uint)p[0], one);
        }

        long ssFaults = cpu.ExceptionCounts[Execution.Vectors.SS];
        StopReason stop;
        string? crash = null;
        try { stop = cpu.Run(64); }
        catch (Exception e) { stop = StopReason.Shutdown; crash = e.GetType().Name + ": " + e.Message; }

        var fin = t.Final.Regs;
        int Expect(string r) => fin.TryGetValue(r, out int v) ? v : init[r];
        if (cpu.ExceptionCounts[Execution.Vectors.SS] != ssFaults && IvtEntry(t, 13) is uint h13 && h13 == (uint)(Expect("cs") << 16 | ((Expect("ip") - 1) & 0xFFFF)))
        {
            lateSkip = VectorRules.SsOverrun;
            Cleanup(mem, t);
            return null;
        }

        var regMasked = new HashSet<string>();
        var ramMasks = new Dictionary<uint, byte>();
        uint mask = 0;
        foreach (var vm in masks)
        {
            mask |= vm.Flags;
            foreach (var r in vm.Regs ?? []) regMasked.Add(r);
            foreach (var (a, b) in vm.Ram ?? []) ramMasks[a] = (byte)(ramMasks.GetValueOrDefault(a) | b);
        }

        var sb = new StringBuilder();
        if (crash != null) sb.Append($"host exception {crash}; ");
        else if (stop != StopReason.Halted) sb.Append($"stopped with {stop} ({cpu.ShutdownReason}); ");
        for (int i = 0; i < 8; i++)
        {
            uint got = s[i], want = (uint)Expect(s_regNames[i]);
            if (got != want && !regMasked.Contains(s_regNames[i])) sb.Append($"{s_regNames[i]}={got:X4} want {want:X4}; ");
        }
        foreach (var (name, seg) in s_segNames)
        {
            var sr = s.GetSegment(seg);
            uint want = (uint)Expect(name);
            if (sr.Selector != want) sb.Append($"{name}={sr.Selector:X4} want {want:X4}; ");
            else if (sr.Base != want << 4) sb.Append($"{name}.base={sr.Base:X8} want {want << 4:X8}; ");
        }
        uint eip = s.Eip;
        if (eip == 0x10000 && Expect("ip") == 0)
        {
            var (applied, differed) = result.Masked.GetValueOrDefault(VectorRules.IpWrap);
            result.Masked[VectorRules.IpWrap] = (applied + 1, differed + 1);
            eip = 0;
        }
        if (eip != (uint)Expect("ip")) sb.Append($"ip={s.Eip:X4} want {Expect("ip"):X4}; ");

        uint gotF = s.Eflags & 0x0FFF, wantF = (uint)Expect("flags") & 0x0FFF;
        foreach (var vm in masks)
        {
            bool differed = ((gotF ^ wantF) & vm.Flags) != 0;
            foreach (var r in vm.Regs ?? []) differed |= s[Array.IndexOf(s_regNames, r)] != (uint)Expect(r);
            foreach (var (a, b) in vm.Ram ?? []) differed |= ((mem.Read8(a) ^ (byte)(t.Final.Ram.FirstOrDefault(p => p[0] == a)?[1] ?? 0)) & b) != 0;
            var (n, d) = result.Masked.GetValueOrDefault(vm.Reason);
            result.Masked[vm.Reason] = (n + 1, d + (differed ? 1 : 0));
        }
        if (((gotF ^ wantF) & ~mask) != 0) sb.Append($"flags={gotF:X3} want {wantF:X3} (diff {(gotF ^ wantF) & ~mask:X3}); ");

        foreach (var p in t.Final.Ram)
        {
            byte got = mem.Read8((uint)p[0]);
            if (((got ^ (byte)p[1]) & ~ramMasks.GetValueOrDefault((uint)p[0])) != 0) sb.Append($"[{p[0]:X6}]={got:X2} want {p[1]:X2}; ");
        }

        Cleanup(mem, t);
        return sb.Length == 0 ? null : sb.ToString();
    }

    /// <summary>Leaves the RAM as found: zeroes every byte the test or its expectation named.</summary>
    private static void Cleanup(PhysicalMemory mem, VectorCase t)
    {
        ReadOnlySpan<byte> zero = [0];
        foreach (var p in t.Initial.Ram) mem.Load((uint)p[0], zero);
        foreach (var p in t.Final.Ram) mem.Load((uint)p[0], zero);
    }

    /// <summary>The IVT entry (segment:offset as one value) for a vector, if the test's initial RAM holds it.</summary>
    private static uint? IvtEntry(VectorCase t, int vector)
    {
        uint v = 0;
        int found = 0;
        foreach (var p in t.Initial.Ram)
        {
            int off = p[0] - vector * 4;
            if (off is >= 0 and < 4) { found++; v |= (uint)p[1] << (8 * off); }
        }
        return found == 4 ? v : null;
    }
}
