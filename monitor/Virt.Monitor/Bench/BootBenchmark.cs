using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Virt.Monitor.Bench;

/// <summary>
/// `virt bench boot`: boots the same Linux kernel and initramfs (marker, uname -a, poweroff -f)
/// under this monitor, once per row of extra `virt run` arguments, and under qemu-system-i386 TCG,
/// in one run, and prints side by side: wall time to the marker line, the guest uptime the marker
/// prints, wall time to the end, the peak memory of all the processes (monitor + device model, or
/// QEMU), and for virt the boot's exits and device-model round trips; ratios against QEMU.
/// Rows are `--row NAME=ARGS` (e.g. --row "batched=--io batched --state cached"); the default is
/// one row per engine (native, IL translator, interpreter); --io-rows adds the four --io / --state
/// combinations, --placement-rows one row per placement of the UART (docs/placements.md).
/// </summary>
public static partial class BootBenchmark
{
    public const string DefaultAppend = "console=ttyS0 nokaslr panic=-1 cryptomgr.notests";
    private const string Marker = "VIRT-MARKER uptime:";

    public sealed record Row(string Name, string[] ExtraArgs, bool IsQemu);

    public sealed record Measurement(string Row, TimeSpan ToMarker, double GuestUptime, TimeSpan ToEnd, long PeakBytes,
        int ExitCode, long? Exits, long? RoundTrips, long? Instructions, ExitBreakdown? Breakdown = null, FirmwareFigures? Firmware = null);

    /// <summary>
    /// The exits the paravirtual interfaces remove, from a virt row's --stats: by reason, the PIT
    /// channel 2 reads (TSC calibration), and the local APIC's EOI writes and PV EOIs.
    /// </summary>
    public sealed record ExitBreakdown(IReadOnlyDictionary<string, long> ByReason, long PitChannel2Reads, long ApicEois, long PvEois);

    /// <summary>The kernel and initramfs scripts/fetch-guest.sh caches (VIRT_GUEST_CACHE or ~/.cache/virt-guests).</summary>
    public static string GuestCache => Environment.GetEnvironmentVariable("VIRT_GUEST_CACHE") is { Length: > 0 } c ? c
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "virt-guests");

    public static async Task<int> RunAsync(string kernel, string initrd, string append, IReadOnlyList<Row> rowsGiven, int runs, int timeout,
        bool qemu, bool ioRows, bool pvRows, string? chart, bool placementRows = false)
    {
        var rows = rowsGiven.ToList();
        foreach (string f in new[] { kernel, initrd })
            if (!File.Exists(f)) throw new ArgumentException($"{f} does not exist (run scripts/fetch-guest.sh, or give --kernel/--initrd)");
        if (rows.Count == 0 && !ioRows && !pvRows && !placementRows)
        {
            // The engines side by side (docs/cpu.md).
            rows.Add(new Row("virt native", ["--cpu-engine", "native"], false));
            rows.Add(new Row("virt interp", ["--cpu-engine", "interp"], false));
        }
        if (ioRows)
        {
            // The optimizations of docs/io.md on and off, each alone: what each saves is measured, not assumed.
            rows.Add(new Row("virt io=batched state=cached", ["--cpu-engine", "native", "--io", "batched", "--state", "cached"], false));
            rows.Add(new Row("virt io=batched state=naive", ["--cpu-engine", "native", "--io", "batched", "--state", "naive"], false));
            rows.Add(new Row("virt io=naive state=cached", ["--cpu-engine", "native", "--io", "naive", "--state", "cached"], false));
            rows.Add(new Row("virt io=naive state=naive", ["--cpu-engine", "native", "--io", "naive", "--state", "naive"], false));
        }
        if (pvRows)
        {
            rows.Add(new Row("virt pv on", ["--cpu-engine", "native", "--cpu", "i686,+pv"], false));
            rows.Add(new Row("virt pv off", ["--cpu-engine", "native", "--cpu", "i686,-pv"], false));
        }
        if (placementRows)
        {
            // Where Linux's console UART runs: every register access a round trip, the device model's batching,
            // served at the exit in the monitor, or reflected to the guest's firmware (docs/firmware-reflection.md).
            rows.Add(new Row("virt com1=dm naive", ["--cpu-engine", "native", "--io", "naive"], false));
            rows.Add(new Row("virt com1=dm batched", ["--cpu-engine", "native", "--io", "batched"], false));
            rows.Add(new Row("virt com1=monitor", ["--cpu-engine", "native", "--place", "com1=monitor"], false));
            rows.Add(new Row("virt com1=firmware", ["--cpu-engine", "native", "--place", "com1=firmware"], false));
        }
        if (qemu) rows.Add(new Row("qemu-tcg", [], true));

        Console.Error.WriteLine($"virt bench boot: {Path.GetFileName(kernel)} + {Path.GetFileName(initrd)}, \"{append}\", {runs} run(s) per row, {Environment.ProcessorCount} CPUs");
        var results = new List<Measurement>();
        foreach (Row row in rows)
        {
            var samples = new List<Measurement>();
            for (int r = 0; r < runs; r++)
            {
                Measurement m = await BootOnceAsync(row, kernel, initrd, append, TimeSpan.FromSeconds(timeout));
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {row.Name} run {r + 1}: marker {m.ToMarker.TotalSeconds:F2} s (guest uptime {m.GuestUptime:F2} s), end {m.ToEnd.TotalSeconds:F2} s, status {m.ExitCode}"));
                samples.Add(m);
            }
            results.Add(samples.OrderBy(s => s.ToMarker).ElementAt(samples.Count / 2));
        }
        Print(results, rows);
        if (chart is not null) WriteChart(chart, results);
        return 0;
    }

    /// <summary>Per row (each engine, QEMU TCG last) its time to the marker and its peak memory, as bars side by side.</summary>
    private static void WriteChart(string path, List<Measurement> results)
    {
        var ci = CultureInfo.InvariantCulture;
        string[] names = results.Select(m => m.Row).ToArray();
        double[] seconds = results.Select(m => m.ToMarker.TotalSeconds).ToArray();
        double[] mib = results.Select(m => m.PeakBytes / 1048576.0).ToArray();
        var time = Plot.BarChart.Grouped("virt bench boot: Linux boot to the marker", "seconds", names,
            [new("time to the marker", seconds, seconds.Select(v => v.ToString("F2", ci)).ToArray())]);
        var memory = Plot.BarChart.Grouped("peak memory of all processes", "MiB", names,
            [new("peak memory", mib, mib.Select(v => v.ToString("F0", ci)).ToArray())]);
        Plot.ChartFile.Save(path, [time, memory], 1000, 700);
        Console.Error.WriteLine($"virt bench boot: chart {path}");
    }

    public static Row ParseRow(string s)
    {
        int eq = s.IndexOf('=');
        string name = eq < 0 ? s : s[..eq];
        string rest = eq < 0 ? "" : s[(eq + 1)..];
        if (name.Length == 0) throw new ArgumentException($"--row {s}: expected NAME=ARGS");
        return new Row(name, rest.Split(' ', StringSplitOptions.RemoveEmptyEntries), false);
    }

    private static void Print(List<Measurement> results, List<Row> rows)
    {
        Measurement? reference = results.FirstOrDefault(m => rows.First(r => r.Name == m.Row).IsQemu);
        // Round trips are compared with the slowest virt row (most round trips: the naive modes when they ran).
        long? naive = results.Where(m => m.RoundTrips is not null).Select(m => m.RoundTrips).Max();
        int w = Math.Max(16, results.Max(m => m.Row.Length));
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"{"row".PadRight(w)} {"marker s",9} {"uptime s",9} {"end s",8} {"peak MiB",9} {"exits",10} {"round trips",12} {"RT / most",10} {"x qemu wall",12} {"x qemu mem",11}");
        foreach (Measurement m in results)
        {
            string ratioWall = reference is null ? "-" : (m.ToMarker / reference.ToMarker).ToString("F2", ci);
            string ratioMem = reference is null ? "-" : ((double)m.PeakBytes / reference.PeakBytes).ToString("F2", ci);
            string ratioTrips = m.RoundTrips is { } rt && naive is { } n && rt > 0 ? $"1/{((double)n / rt).ToString("F1", ci)}" : "-";
            Console.WriteLine(string.Create(ci,
                $"{m.Row.PadRight(w)} {m.ToMarker.TotalSeconds,9:F2} {m.GuestUptime,9:F2} {m.ToEnd.TotalSeconds,8:F2} {m.PeakBytes / 1048576.0,9:F1} {Format(m.Exits),10} {Format(m.RoundTrips),12} {ratioTrips,10} {ratioWall,12} {ratioMem,11}"));
        }
        static string Format(long? v) => v is { } x ? x.ToString("N0", CultureInfo.InvariantCulture) : "-";
        foreach (Measurement m in results.Where(m => m.Firmware is not null))
            Console.WriteLine($"{m.Row}: {m.Firmware}");

        // The exits by reason beside the two the paravirtual interfaces remove (docs/paravirt.md).
        var broken = results.Where(m => m.Breakdown is not null).ToList();
        if (broken.Count == 0) return;
        string[] reasons = broken.SelectMany(m => m.Breakdown!.ByReason.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        Console.WriteLine();
        Console.WriteLine($"{"row".PadRight(w)} {string.Concat(reasons.Select(r => $" {r,10}"))} {"pit ch2 in",11} {"apic eoi",9} {"pv eoi",8}");
        foreach (Measurement m in broken)
        {
            ExitBreakdown b = m.Breakdown!;
            Console.WriteLine(string.Create(ci,
                $"{m.Row.PadRight(w)} {string.Concat(reasons.Select(r => $" {Format(b.ByReason.GetValueOrDefault(r)),10}"))} {Format(b.PitChannel2Reads),11} {Format(b.ApicEois),9} {Format(b.PvEois),8}"));
        }
    }

    private static async Task<Measurement> BootOnceAsync(Row row, string kernel, string initrd, string append, TimeSpan timeout)
    {
        string? stats = row.IsQemu ? null : Path.Combine(Path.GetTempPath(), $"virt-bench-boot-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        ProcessStartInfo psi = row.IsQemu ? QemuStart(kernel, initrd, append) : VirtStart(kernel, initrd, append, stats!, row.ExtraArgs);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.UseShellExecute = false;

        var wall = Stopwatch.StartNew();
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        p.StandardInput.Close();
        var marker = new TaskCompletionSource<(TimeSpan, double)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var console = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (console) console.AppendLine(e.Data);
            if (MarkerLine().Match(e.Data) is { Success: true } m)
                marker.TrySetResult((wall.Elapsed, double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();

        var memory = new PeakMemory(p.Id);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (!p.HasExited)
            {
                memory.Sample();
                await Task.Delay(50, cts.Token);
            }
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{row.Name}: no power-off within {timeout.TotalSeconds} s; console so far:\n{console}");
        }
        TimeSpan end = wall.Elapsed;
        if (!marker.Task.IsCompleted)
            throw new InvalidOperationException($"{row.Name}: the guest ended (status {p.ExitCode}) without printing the marker; console:\n{console}");
        var (toMarker, uptime) = marker.Task.Result;

        long? exits = null, roundTrips = null, instructions = null;
        ExitBreakdown? breakdown = null;
        FirmwareFigures? firmware = null;
        if (stats is not null && File.Exists(stats))
        {
            using (var json = JsonDocument.Parse(File.ReadAllText(stats)))
            {
                JsonElement root = json.RootElement;
                exits = root.GetProperty("exits").GetInt64();
                roundTrips = root.GetProperty("roundTrips").GetProperty("count").GetInt64();
                instructions = root.GetProperty("instructions").GetInt64();
                breakdown = Breakdown(root);
                firmware = FirmwareFigures.Read(root);
            }
            File.Delete(stats);
        }
        return new Measurement(row.Name, toMarker, uptime, end, memory.PeakBytes, p.ExitCode, exits, roundTrips, instructions, breakdown, firmware);
    }

    private static ExitBreakdown Breakdown(JsonElement stats)
    {
        var byReason = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (JsonProperty r in stats.GetProperty("exitsByReason").EnumerateObject()) byReason[r.Name] = r.Value.GetInt64();
        long pit2 = stats.GetProperty("ports").EnumerateArray()
            .Where(p => p.GetProperty("port").GetInt32() == 0x42).Sum(p => p.GetProperty("reads").GetInt64());
        long Lapic(string counter) =>
            stats.TryGetProperty("devices", out JsonElement d) && d.TryGetProperty("lapic", out JsonElement l) && l.TryGetProperty(counter, out JsonElement v) ? v.GetInt64() : 0;
        return new ExitBreakdown(byReason, pit2, Lapic("eois"), Lapic("pv_eois"));
    }

    private static ProcessStartInfo VirtStart(string kernel, string initrd, string append, string stats, string[] extra) =>
        ThisVirt.StartInfo(["run", "-q", "-m", "256M", "--kernel", kernel, "--initrd", initrd, "--append", append, "--stats", stats, .. extra]);

    /// <summary>The reference: QEMU TCG with its default PC machine (SeaBIOS, ACPI: poweroff -f powers off).</summary>
    private static ProcessStartInfo QemuStart(string kernel, string initrd, string append)
    {
        var psi = new ProcessStartInfo("qemu-system-i386");
        foreach (string a in new[] { "-accel", "tcg", "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot" })
            psi.ArgumentList.Add(a);
        return psi;
    }

    [GeneratedRegex(@"VIRT-MARKER uptime: (\d+\.\d+)")]
    private static partial Regex MarkerLine();
}
