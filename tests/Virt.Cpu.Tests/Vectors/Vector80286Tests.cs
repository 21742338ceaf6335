using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Virt.Cpu.Tests.Vectors;

/// <summary>
/// The SingleStepTests 80286 real-mode vectors, one theory case per file. Files are computed once
/// per process; a background worker runs ahead of the (sequential) theory cases so the whole set
/// uses every core.
/// </summary>
public sealed class Vector80286Tests(ITestOutputHelper output)
{
    private static readonly ConcurrentDictionary<string, Lazy<FileResult>> s_results = new();
    private static int s_prefetchStarted;

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        var keys = VectorFiles.Keys();
        if (keys.Count == 0) data.Add("(missing)");
        foreach (var k in keys) data.Add(k);
        return data;
    }

    private static FileResult Get(string key) =>
        s_results.GetOrAdd(key, k => new Lazy<FileResult>(() => VectorRunner.RunFile(k))).Value;

    private static void StartPrefetch()
    {
        if (Interlocked.Exchange(ref s_prefetchStarted, 1) != 0) return;
        var keys = VectorFiles.Keys();
        int workers = Math.Max(1, Environment.ProcessorCount - 1);
        for (int w = 0; w < workers; w++)
        {
            int start = w;
            new Thread(() =>
            {
                for (int i = start; i < keys.Count; i += workers) Get(keys[i]);
            })
            { IsBackground = true, Name = "vector prefetch" }.Start();
        }
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void RunsFile(string file)
    {
        Assert.True(file != "(missing)", $"CPU vectors not found at {VectorFiles.Directory}; set VIRT_CPU_VECTORS");
        StartPrefetch();
        var r = Get(file);
        foreach (var (reason, n) in r.Skipped) output.WriteLine($"{n,4} {reason}");
        foreach (var (reason, (applied, differed)) in r.Masked) output.WriteLine($"{applied,4} {reason} (differed in {differed})");
        if (r.Failed > 0)
            Assert.Fail($"{file}: {r.Failed} of {r.Total} failed; first ones:\n  " + string.Join("\n  ", r.Failures));
    }

    /// <summary>Totals over every file, per skip and mask reason (the numbers to report).</summary>
    [Fact]
    public void VectorSummary()
    {
        var keys = VectorFiles.Keys();
        Assert.True(keys.Count > 0, $"CPU vectors not found at {VectorFiles.Directory}; set VIRT_CPU_VECTORS");
        var sw = Stopwatch.StartNew();
        Parallel.ForEach(keys, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, k => Get(k));
        var all = keys.Select(Get).ToArray();
        var skipped = new SortedDictionary<string, int>();
        var masked = new SortedDictionary<string, (int, int)>();
        foreach (var r in all)
        {
            foreach (var (k, n) in r.Skipped) skipped[k] = skipped.GetValueOrDefault(k) + n;
            foreach (var (k, (a, d)) in r.Masked) { var (a0, d0) = masked.GetValueOrDefault(k); masked[k] = (a0 + a, d0 + d); }
        }
        var sb = new StringBuilder();
        sb.AppendLine($"files {all.Length}, tests {all.Sum(r => r.Total)}, passed {all.Sum(r => r.Passed)}, failed {all.Sum(r => r.Failed)}, skipped {skipped.Values.Sum()} (wait {sw.Elapsed.TotalSeconds:F1} s)");
        foreach (var (k, n) in skipped) sb.AppendLine($"  {n,6} {k}");
        foreach (var (k, (a, d)) in masked) sb.AppendLine($"  {a,6} {k} - differed in {d}");
        foreach (var r in all.Where(r => r.Failed > 0)) sb.AppendLine($"  FAIL {r.Key}: {r.Failed}/{r.Total}  {r.Failures.FirstOrDefault()}");
        output.WriteLine(sb.ToString());
        string? path = Environment.GetEnvironmentVariable("VIRT_CPU_VECTORS_REPORT");
        if (!string.IsNullOrEmpty(path)) File.WriteAllText(path, sb.ToString());
        Assert.Equal(all.Sum(r => r.Total), all.Sum(r => r.Passed) + all.Sum(r => r.Failed) + skipped.Values.Sum());
    }
}
