using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Virt.Monitor.Guests;

namespace Virt.Monitor.Bench;

/// <summary>
/// `virt bench pv`: guests/pvwork.c (an interrupt-heavy workload over a paravirtual layer) run as a
/// real VM once per way of reaching the hot operations: native instructions (pvwork) and calls
/// through this monitor's call table (pvwork_table), called and inlined at the call site (VMI's
/// form, by the interpreter and by native code; the IL translator makes the call), side by side:
/// guest instructions per second, the engine's handler calls, VMCALLs, inlined calls (and how many
/// of them native code ran), exits and round trips. Every row must print the same lines (docs/paravirt.md).
/// </summary>
public static class ParavirtBenchmark
{
    private sealed record Row(string Name, string Guest, string Cpu);

    private sealed record Result(string Row, int Status, double WallSeconds, long Instructions, long HandlerCalls, long Hypercalls,
        long Inlined, long NativeInlined, long Exits, long RoundTrips, string Output);

    public static async Task<int> RunAsync(uint iters, uint ticks, uint every, int runs, string engine)
    {
        Row[] rows =
        [
            new("native instructions", "pvwork", "i686,+pv"),
            new("call table", "pvwork_table", "i686,+pv,-virt-pv-inline"),
            new("call table inlined", "pvwork_table", "i686,+pv"),
        ];
        string append = string.Create(CultureInfo.InvariantCulture, $"iters={iters} ticks={ticks} every={every}");
        Console.Error.WriteLine($"virt bench pv: guests/pvwork.c, \"{append}\", --cpu-engine {engine}, {runs} run(s) per row");
        var results = new List<Result>();
        foreach (Row row in rows)
        {
            string kernel = GuestBuildScript.Build("guest", row.Guest, "virt bench pv");
            var samples = new List<Result>();
            for (int r = 0; r < runs; r++) samples.Add(await RunOnceAsync(row, kernel, append, engine));
            results.Add(samples.OrderBy(s => s.WallSeconds).ElementAt(samples.Count / 2));
        }

        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"{"row",-22} {"status",6} {"wall s",8} {"instructions",14} {"Minstr/s",9} {"handler calls",14} {"vmcalls",9} {"inlined",9} {"by native",10} {"exits",9} {"round trips",12}");
        foreach (Result m in results)
            Console.WriteLine(string.Create(ci,
                $"{m.Row,-22} {m.Status,6} {m.WallSeconds,8:F3} {m.Instructions,14:N0} {m.Instructions / m.WallSeconds / 1e6,9:F1} {m.HandlerCalls,14:N0} {m.Hypercalls,9:N0} {m.Inlined,9:N0} {m.NativeInlined,10:N0} {m.Exits,9:N0} {m.RoundTrips,12:N0}"));
        bool same = results.All(r => r.Output == results[0].Output);
        Console.WriteLine(same ? "guest output: identical in every row" : "guest output: DIFFERS between rows");
        return same && results.All(r => r.Status == 1) ? 0 : 1;
    }

    private static async Task<Result> RunOnceAsync(Row row, string kernel, string append, string engine)
    {
        string stats = Path.Combine(Path.GetTempPath(), $"virt-bench-pv-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        ProcessStartInfo psi = ThisVirt.StartInfo(["run", "-q", "--kernel", kernel, "--append", append, "--cpu-engine", engine, "--cpu", row.Cpu, "--stats", stats]);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start virt run");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{row.Name}: no exit within 10 minutes");
        }
        // The mode line (port 0xE9) names the build; everything else must be the same in every row.
        string output = string.Join('\n', (await stdout).Replace("\r", "").Split('\n').Where(l => !l.StartsWith("pvwork mode=", StringComparison.Ordinal)));
        if (!File.Exists(stats)) throw new InvalidOperationException($"{row.Name}: virt run wrote no statistics (status {p.ExitCode}): {await stderr}");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(stats));
            JsonElement root = json.RootElement;
            long handlerCalls = root.TryGetProperty("engine", out JsonElement e) && e.TryGetProperty("nativeHandlerCalls", out JsonElement h) ? h.GetInt64() : 0;
            bool hasPv = root.TryGetProperty("paravirt", out JsonElement pv);
            long hypercalls = hasPv ? pv.GetProperty("hypercalls").GetInt64() : 0, inlined = hasPv ? pv.GetProperty("inlinedHotCalls").GetInt64() : 0;
            long nativeInlined = hasPv && pv.TryGetProperty("nativeInlinedHotCalls", out JsonElement n) ? n.GetInt64() : 0;
            return new Result(row.Name, p.ExitCode, root.GetProperty("wallSeconds").GetDouble(), root.GetProperty("instructions").GetInt64(),
                handlerCalls, hypercalls, inlined, nativeInlined, root.GetProperty("exits").GetInt64(), root.GetProperty("roundTrips").GetProperty("count").GetInt64(), output);
        }
        finally
        {
            File.Delete(stats);
        }
    }
}
