using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Virt.Cpu.Memory;
using Virt.Monitor.Cli;
using Virt.Monitor.Plot;
using Virt.Monitor.Vcpu;
using Virt.Monitor.Vm;
using Virt.Shared.Abi;

namespace Virt.Monitor.Bench;

/// <summary>
/// `virt bench io`: the <see cref="IoWorkloads"/> run as real VMs (this monitor, a real device model
/// process, comm page, doorbells; by default virt-dm-bench --io-test: virt-dm's PC plus the I/O test
/// device, which the shipped virt-dm does not have) in each combination of `--io naive|batched` and
/// `--state naive|cached`, in one run, printed side by side: exits, round trips (and those that
/// only fetched or committed state), wall time of the VCPU, and ratios against the all-naive run.
/// Every run's guest result must match the others' (and the expected one where it is known).
/// </summary>
public static class IoBenchmark
{
    /// <param name="Com1">Where COM1 runs (`virt run --place com1=...`, docs/placements.md).</param>
    /// <param name="Label">The row's name when it is a placement row (--placements); null: the --io / --state mode.</param>
    public sealed record Mode(string Io, string State, Placement Com1 = Placement.DeviceModel, string? Label = null)
    {
        public bool IoBatched => Io == "batched";
        public bool StateCached => State == "cached";
        public override string ToString() => Label ?? $"io {Io,-7} state {State,-6}";
    }

    public sealed record Result(string Workload, Mode Mode, int Status, long Exits, long RoundTrips, long StateFetches,
        long CommitRoundTrips, long BatchedWrites, long CachedHits, double WallMs, FirmwareFigures? Firmware = null)
    {
        /// <summary>Round-trip latency p50, p90, p99 (µs), and the p99 of each part of the split (to the device model, service, back); empty: no round trips.</summary>
        public double[] Latency { get; init; } = [];
        public double[] SplitP99 { get; init; } = [];
    }

    public static readonly Mode[] Modes = [new("naive", "naive"), new("naive", "cached"), new("batched", "naive"), new("batched", "cached")];

    /// <summary>
    /// --placements: one row per placement of the UART (docs/placements.md), the same guest in one run: in the
    /// device model with every access a round trip, in the device model with its batched writes and cached
    /// reads, in the monitor (served at the exit) and in the guest's firmware (each access reflected to it,
    /// docs/firmware-reflection.md).
    /// </summary>
    public static readonly Mode[] PlacementModes =
    [
        new("naive", "cached", Placement.DeviceModel, "com1 dm naive"),
        new("batched", "cached", Placement.DeviceModel, "com1 dm batched"),
        new("batched", "cached", Placement.Monitor, "com1 monitor"),
        new("batched", "cached", Placement.Firmware, "com1 firmware"),
    ];

    /// <summary>The device model every workload runs against: virt-dm's PC plus the I/O test device, COM1 discarded.</summary>
    public const string DefaultDeviceModel = "virt-dm-bench --io-test --serial none";

    /// <param name="only">The workloads to run (null: all).</param>
    /// <param name="placements">One row per placement of COM1 (<see cref="PlacementModes"/>) instead of the --io / --state modes; the serial workload unless <paramref name="only"/> names others.</param>
    public static async Task<int> RunAsync(int scale, int repeat, string dm, string? json, string? chart, IReadOnlySet<string>? only, Virt.Shared.Wakeup.WakeMode? wake,
        bool placements = false)
    {
        Mode[] modes = placements ? PlacementModes : Modes;
        if (placements) only ??= new HashSet<string> { "serial" };
        var workloads = IoWorkloads.All(scale).Where(w => only is null || only.Contains(w.Name)).ToList();
        Console.Error.WriteLine($"virt bench io: {workloads.Count} workloads x {modes.Length} {(placements ? "placements of COM1" : "modes")}, monitor and '{dm}' as two processes, {Environment.ProcessorCount} CPUs");
        // Warm up the JIT on the monitor's exit paths in every mode before anything is measured.
        foreach (Mode m in modes) await RunOneAsync(IoWorkloads.All(1)[0] with { Image = IoWorkloads.SerialBurst(500) }, m, dm, wake);

        var results = new List<Result>();
        bool allGood = true;
        foreach (var w in workloads)
        {
            var rows = new List<Result>();
            // Modes interleaved, each run `repeat` times; the median wall time is kept (counts are exact and equal across repeats).
            var runs = modes.ToDictionary(m => m, _ => new List<Result>());
            for (int k = 0; k < repeat; k++)
                foreach (Mode m in modes) runs[m].Add(await RunOneAsync(w, m, dm, wake));
            foreach (Mode m in modes)
            {
                var byWall = runs[m].OrderBy(r => r.WallMs).ToList();
                Result median = byWall[byWall.Count / 2];
                rows.Add(runs[m].Any(r => r.Status != median.Status) ? median with { Status = -1 } : median);
            }
            results.AddRange(rows);
            allGood &= Print(w, rows);
        }
        if (json is not null) WriteJson(json, results);
        if (chart is not null) WriteChart(chart, results, modes);
        if (placements)
        {
            Console.WriteLine();
            Console.WriteLine("placements: a device-model row pays a round trip per access it does not batch or cache; the monitor row serves every");
            Console.WriteLine("access at the exit on the VCPU thread, so it has no round trip for COM1 at all (docs/placements.md).");
            return allGood ? 0 : 1;
        }
        Console.WriteLine();
        Console.WriteLine("speculative state copy on an exit (what --state cached adds to every exit it caches on):");
        foreach (StateBits areas in new[] { StateBits.Gprs, StateBits.Gprs | StateBits.Segs | StateBits.Crs })
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {areas,-18} {MeasureSave(areas),6:F0} ns"));
        return allGood ? 0 : 1;
    }

    private sealed class NoExits : Virt.Cpu.Exits.IExitHandler
    {
        public uint PortIn(ushort port, int size) => 0;
        public void PortOut(ushort port, int size, uint value) { }
        public ulong MmioRead(ulong address, int size) => 0;
        public void MmioWrite(ulong address, int size, ulong value) { }
    }

    /// <summary>Nanoseconds per <see cref="CpuStateAccess.Save"/> of <paramref name="areas"/> into a page (median of 5 runs of 200k).</summary>
    private static double MeasureSave(StateBits areas)
    {
        using var ram = new GuestRam(1 << 20);
        using var memory = new PhysicalMemory(ram);
        var access = new CpuStateAccess(new Cpu.Cpu(memory, new NoExits()));
        var page = new CommPage[1];
        var samples = new List<double>();
        for (int run = 0; run < 6; run++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < 200_000; i++) access.Save(areas, ref page[0]);
            double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / 200_000;
            if (run > 0) samples.Add(ns); // the first run warms up the JIT
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }

    /// <param name="wake">The wake-up option; null: virt run's default.</param>
    public static async Task<Result> RunOneAsync(IoWorkloads.Workload w, Mode m, string dm, Virt.Shared.Wakeup.WakeMode? wake = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"virt-bench-io-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string stats = Path.Combine(dir, "stats.json");
            var o = new RunOptions
            {
                Serial = "none",
                Quiet = true,
                StatsFile = stats,
                DeviceModels = [dm],
                IoBatched = m.IoBatched,
                StateCached = m.StateCached,
            };
            if (m.Com1 != Placement.DeviceModel)
            {
                // The device model leaves COM1 to where it is placed (virt run does this for the bundled virt-dm itself).
                o = o with { Placements = new Dictionary<string, Placement> { ["com1"] = m.Com1 } };
                if (!dm.Contains("--devices", StringComparison.Ordinal) && PlacementOption.DeviceModelDevices(o.Placements) is { } devices)
                    o = o with { DeviceModels = [$"{dm} --devices {string.Join(',', devices)}"] };
            }
            if (wake is { } mode) o = o with { Wake = mode };
            int status = await VirtualMachine.RunAsync(o, new GuestImages(w.Image, "bench-" + w.Name, [], null));
            using var doc = JsonDocument.Parse(File.ReadAllText(stats));
            JsonElement r = doc.RootElement;
            return new Result(w.Name, m, status, r.GetProperty("exits").GetInt64(), r.GetProperty("roundTrips").GetProperty("count").GetInt64(),
                r.GetProperty("stateFetches").GetInt64(), r.GetProperty("commitRoundTrips").GetInt64(), r.GetProperty("batchedWrites").GetInt64(),
                r.GetProperty("cachedReads").GetProperty("hits").GetInt64(), r.GetProperty("wallSeconds").GetDouble() * 1000, FirmwareFigures.Read(r))
            {
                Latency = Percentiles(r.GetProperty("roundTrips")),
                SplitP99 = SplitParts.All(p => r.GetProperty("roundTrips").TryGetProperty(p, out _))
                    ? SplitParts.Select(p => r.GetProperty("roundTrips").GetProperty(p).GetProperty("p99Micros").GetDouble()).ToArray() : [],
            };
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static readonly string[] SplitParts = ["toDeviceModel", "service", "back"];

    private static double[] Percentiles(JsonElement trips) => trips.TryGetProperty("p50Micros", out JsonElement p50)
        ? [p50.GetDouble(), trips.GetProperty("p90Micros").GetDouble(), trips.GetProperty("p99Micros").GetDouble()]
        : [];

    private static string Latency(Result r) => r.Latency.Length == 0 ? "-"
        : string.Create(CultureInfo.InvariantCulture, $"{r.Latency[0]:F1}/{r.Latency[1]:F1}/{r.Latency[2]:F1}");

    private static string Split(Result r) => r.SplitP99.Length == 0 ? "-"
        : string.Create(CultureInfo.InvariantCulture, $"{r.SplitP99[0]:F1}/{r.SplitP99[1]:F1}/{r.SplitP99[2]:F1}");

    private static bool Print(IoWorkloads.Workload w, List<Result> rows)
    {
        var ci = CultureInfo.InvariantCulture;
        Result baseline = rows[0];
        int? expected = w.ExpectedResult is { } e ? ExitStatus.FromExitPort(e) : null;
        bool same = rows.All(r => r.Status == baseline.Status) && (expected is null || baseline.Status == expected);
        Console.WriteLine();
        Console.WriteLine($"{w.Name}: {w.Description}");
        Console.WriteLine($"  {"mode",-26} {"exits",9} {"round trips",12} {"state RTs",10} {"commit RTs",11} {"batched",9} {"cached",9} {"wall ms",9} {"RTs vs naive",13} {"wall vs naive",14} {"RT p50/p90/p99 us",20} {"p99 to/service/back",22}  result");
        foreach (Result r in rows)
        {
            double rtRatio = r.RoundTrips == 0 ? double.PositiveInfinity : (double)baseline.RoundTrips / r.RoundTrips;
            double wallRatio = r.WallMs <= 0 ? 0 : baseline.WallMs / r.WallMs;
            string result = r.Status == baseline.Status && (expected is null || r.Status == expected) ? "ok" : $"MISMATCH (status {r.Status})";
            Console.WriteLine(string.Create(ci, $"  {r.Mode,-26} {r.Exits,9:N0} {r.RoundTrips,12:N0} {r.StateFetches,10:N0} {r.CommitRoundTrips,11:N0} {r.BatchedWrites,9:N0} {r.CachedHits,9:N0} {r.WallMs,9:F1} {rtRatio,12:F1}x {wallRatio,13:F2}x {Latency(r),20} {Split(r),22}  {result}"));
        }
        foreach (Result r in rows.Where(r => r.Firmware is not null))
            Console.WriteLine($"  {r.Mode}: {r.Firmware}");
        return same;
    }

    /// <summary>Two panels, per workload one bar per mode: round trips and wall time, each relative to the all-naive run (labels: the figures).</summary>
    private static void WriteChart(string path, List<Result> results, Mode[] modes)
    {
        var ci = CultureInfo.InvariantCulture;
        string[] workloads = results.Select(r => r.Workload).Distinct().ToArray();
        Result Of(string w, Mode m) => results.First(r => r.Workload == w && r.Mode == m);
        BarChart.Series Series(Mode m, Func<Result, double> value, Func<double, string> label) => new(
            m.Label ?? $"io {m.Io}, state {m.State}",
            workloads.Select(w => value(Of(w, modes[0])) is var b && b > 0 ? value(Of(w, m)) / b : 0).ToArray(),
            workloads.Select(w => label(value(Of(w, m)))).ToArray());
        string baseline = modes[0].Label ?? "io naive, state naive";
        var trips = BarChart.Grouped($"virt bench io: round trips (relative to {baseline}; labels: the count)", "relative round trips",
            workloads, modes.Select(m => Series(m, r => r.RoundTrips, v => v.ToString("N0", ci))).ToList());
        var wall = BarChart.Grouped($"wall time of the VCPU (relative to {baseline}; labels: ms)", "relative wall time",
            workloads, modes.Select(m => Series(m, r => r.WallMs, v => v.ToString("F1", ci))).ToList());
        ChartFile.Save(path, [trips, wall], 1200, 800);
        Console.Error.WriteLine($"virt bench io: chart {path}");
    }

    private static void WriteJson(string path, List<Result> results)
    {
        using var stream = File.Create(path);
        using var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        j.WriteStartArray();
        foreach (Result r in results)
        {
            j.WriteStartObject();
            j.WriteString("workload", r.Workload);
            j.WriteString("io", r.Mode.Io);
            j.WriteString("state", r.Mode.State);
            j.WriteString("com1", r.Mode.Com1 switch { Placement.Monitor => "monitor", Placement.Firmware => "firmware", _ => "dm" });
            j.WriteNumber("status", r.Status);
            j.WriteNumber("exits", r.Exits);
            j.WriteNumber("roundTrips", r.RoundTrips);
            j.WriteNumber("stateFetches", r.StateFetches);
            j.WriteNumber("commitRoundTrips", r.CommitRoundTrips);
            j.WriteNumber("batchedWrites", r.BatchedWrites);
            j.WriteNumber("cachedReadHits", r.CachedHits);
            j.WriteNumber("wallMs", r.WallMs);
            if (r.Latency.Length == 3)
            {
                j.WriteNumber("roundTripP50Micros", r.Latency[0]);
                j.WriteNumber("roundTripP90Micros", r.Latency[1]);
                j.WriteNumber("roundTripP99Micros", r.Latency[2]);
            }
            if (r.SplitP99.Length == 3)
            {
                j.WriteNumber("toDeviceModelP99Micros", r.SplitP99[0]);
                j.WriteNumber("serviceP99Micros", r.SplitP99[1]);
                j.WriteNumber("backP99Micros", r.SplitP99[2]);
            }
            if (r.Firmware is { } fw)
            {
                j.WriteString("placement", "firmware");
                j.WriteNumber("reflections", fw.Reflections);
                j.WriteNumber("handlerInstructions", fw.HandlerInstructions);
                j.WriteNumber("firmwareMonitorCalls", fw.MonitorCalls);
            }
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }
}
