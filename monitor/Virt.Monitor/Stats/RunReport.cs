using System.Globalization;
using System.Text.Json;
using Virt.Monitor.Vm;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Stats;

/// <summary>The end-of-run report: a table on stderr and the same figures as JSON (--stats).</summary>
/// <param name="devices">The devices' own counters (<see cref="DeviceCounterTable"/>); null: none gathered.</param>
/// <param name="timeline">The run over time (--stats); null: not recorded.</param>
/// <param name="firmware">Accesses reflected to the guest firmware (--place com1=firmware); null: no firmware.</param>
public sealed class RunReport(VmEnd end, ExitStatistics stats, TimeSpan wall, long instructions,
    DeviceModelCounters deviceCounters, Func<ushort, string> deviceOfPort, Virt.Cpu.EngineStatistics? engine = null,
    DeviceCounterTable? devices = null, Timeline? timeline = null, Virt.Cpu.Paravirt.ParavirtStatistics? paravirt = null,
    Virt.Cpu.Firmware.FirmwareStatistics? firmware = null)
{
    private static readonly double[] Percentiles = [50, 90, 99];

    public void WriteTable(TextWriter w)
    {
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(ci, $"---- virt run: {end.Reason}; status {end.Status}; wall {wall.TotalSeconds:F3} s; {instructions:N0} instructions"));
        w.WriteLine(string.Create(ci, $"exits {stats.TotalExits:N0}: ") + string.Join(", ", stats.ByReason.OrderByDescending(kv => kv.Value).Select(kv => string.Create(ci, $"{kv.Key} {kv.Value:N0}"))));
        w.WriteLine("handled in: " + string.Join(", ", stats.ByTarget.Select(kv => string.Create(ci, $"{Target(kv.Key)} {kv.Value:N0}"))));
        w.WriteLine($"{"device",-14} {"port",6} {"reads",10} {"writes",10}");
        foreach (var (port, reads, writes) in stats.Ports())
            w.WriteLine(string.Create(ci, $"{deviceOfPort(port),-14} {"0x" + port.ToString("X", ci),6} {reads,10:N0} {writes,10:N0}"));
        foreach (var (page, reads, writes) in stats.MmioPages())
            w.WriteLine(string.Create(ci, $"{"mmio",-14} {"0x" + page.ToString("X", ci),6} {reads,10:N0} {writes,10:N0}"));
        double[] p = stats.RoundTripLatency.PercentilesMicros(Percentiles);
        w.WriteLine(p.Length == 0
            ? "round trips 0"
            : string.Create(ci, $"round trips {stats.RoundTrips:N0}; latency p50 {p[0]:F2} us, p90 {p[1]:F2} us, p99 {p[2]:F2} us"));
        if (stats.ServiceLatency.Count > 0)
            w.WriteLine(string.Create(ci, $"round trip split ({stats.ServiceLatency.Count:N0} sampled, stamped by the device model), p50/p90/p99 us: to the device model {Triple(stats.ToDeviceLatency)}; service {Triple(stats.ServiceLatency)}; back {Triple(stats.BackLatency)}"));
        RuntimeCounters rt = RuntimeCounters.Now();
        w.WriteLine(string.Create(ci, $"monitor runtime: gc collections {rt.Gen0:N0}/{rt.Gen1:N0}/{rt.Gen2:N0} (gen 0/1/2), paused {rt.PauseMicros / 1000.0:F1} ms, allocated {rt.AllocatedBytes:N0} bytes, {stats.ExitPathAllocatedBytes:N0} of them on the exit path to the device model; round trips during a collection {stats.RoundTripsSpanningGc:N0}"));
        if (stats.RefusedTotal > 0)
            w.WriteLine("refused from the comm page: " + string.Join(", ", stats.Refused().Select(r => string.Create(ci, $"{RefusalNames.Name(r.What)} {r.Count}"))));
        w.WriteLine(string.Create(ci, $"irq edges from the device model {stats.IrqEdges:N0}"));
        w.WriteLine(string.Create(ci, $"state: served from the page {stats.StateServedFromPage:N0}, fetched by round trip {stats.StateFetches:N0}; commits {stats.StateCommits:N0} ({stats.CommitRoundTrips:N0} by round trip of their own)"));
        w.WriteLine(string.Create(ci, $"batched writes {stats.BatchedWrites:N0}; cached reads: hits {stats.CachedReadHits:N0}, misses {stats.CachedReadMisses:N0}, stale (flushed first) {stats.CachedReadStale:N0}"));
        w.WriteLine("ring flushes: " + (stats.FlushesByReason.Count == 0 ? "none" : string.Join(", ", stats.FlushesByReason.OrderByDescending(kv => kv.Value).Select(kv => string.Create(ci, $"{kv.Key} {kv.Value:N0}")))));
        if (firmware is { } fw)
            w.WriteLine(string.Create(ci, $"firmware: reflections {fw.Reflections:N0}, handler instructions {fw.HandlerInstructions:N0}, calls to the monitor {fw.MonitorCalls:N0}")
                + (fw.Failure is { } failed ? $"; abandoned ({failed}), its ranges unclaimed since" : ""));
        WriteDevices(w);
        if (engine is { } e)
        {
            w.WriteLine(string.Create(ci, $"engine {e.Engine}: {e.BlocksTranslated:N0} blocks translated in {e.TranslationMillis:F1} ms") +
                (e.NativeCalls == 0 ? "" : string.Create(ci, $" (median {e.MedianNativeCompileMicros:F1} us); code cache {e.CodeCacheBytes:N0} bytes, {e.CodeCacheFlushes} flushes; native calls {e.NativeCalls:N0} running {e.NativeInstructions:N0} instructions, links patched {e.NativeLinks:N0}, handler calls {e.NativeHandlerCalls:N0}; calls ended by the countdown {e.NativeCountdownExits:N0}, by a jump-table miss {e.NativeDispatchMisses:N0}, by an op sent to the interpreter {e.NativeInterpretExits:N0}; entries declined (segments) {e.NativeDeclined:N0}")));
            if (e.NativeStops.Count > 0) w.WriteLine("ops native code leaves to the interpreter's handlers: " + string.Join(", ", e.NativeStops.Select(kv => string.Create(ci, $"{kv.Key} {kv.Value:N0}"))));
            if (e.NativeMisses.Count > 0) w.WriteLine("native TLB misses and the like, by op: " + string.Join(", ", e.NativeMisses.Select(kv => string.Create(ci, $"{kv.Key} {kv.Value:N0}"))));
        }
    }

    /// <summary>One line per device with any counter above zero: its name, where it runs, its non-zero counters.</summary>
    private void WriteDevices(TextWriter w)
    {
        if (devices is null || !devices.Rows.Any(r => r.AnyNonZero)) return;
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine("devices:");
        foreach (DeviceCounterRow row in devices.Rows.Where(r => r.AnyNonZero))
            w.WriteLine($"  {row.Key,-10} {"(" + row.Host + ")",-28} " +
                string.Join(", ", row.Counters.Where(c => c.Value != 0).Select(c => string.Create(ci, $"{c.Name} {c.Value:N0}"))));
    }

    private static string Triple(LatencyRecorder r)
    {
        double[] q = r.PercentilesMicros(Percentiles);
        return string.Create(CultureInfo.InvariantCulture, $"{q[0]:F2}/{q[1]:F2}/{q[2]:F2}");
    }

    private static void WriteSplit(Utf8JsonWriter j, string name, LatencyRecorder r)
    {
        double[] q = r.PercentilesMicros(Percentiles);
        if (q.Length == 0) return;
        j.WriteStartObject(name);
        j.WriteNumber("p50Micros", q[0]);
        j.WriteNumber("p90Micros", q[1]);
        j.WriteNumber("p99Micros", q[2]);
        j.WriteEndObject();
    }

    private static string Target(ExitTarget t) => t switch
    {
        ExitTarget.Monitor => "monitor",
        ExitTarget.DeviceModel => "device-model",
        _ => "unclaimed",
    };

    public void WriteJson(Stream stream)
    {
        using var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteNumber("status", end.Status);
        j.WriteString("end", end.Kind);
        j.WriteString("reason", end.Reason);
        j.WriteNumber("wallSeconds", wall.TotalSeconds);
        j.WriteNumber("instructions", instructions);
        j.WriteNumber("exits", stats.TotalExits);
        j.WriteStartObject("exitsByReason");
        foreach (var kv in stats.ByReason) j.WriteNumber(kv.Key, kv.Value);
        j.WriteEndObject();
        j.WriteStartObject("exitsByTarget");
        foreach (var kv in stats.ByTarget) j.WriteNumber(Target(kv.Key), kv.Value);
        j.WriteEndObject();
        j.WriteStartArray("ports");
        foreach (var (port, reads, writes) in stats.Ports())
        {
            j.WriteStartObject();
            j.WriteString("device", deviceOfPort(port));
            j.WriteNumber("port", port);
            j.WriteNumber("reads", reads);
            j.WriteNumber("writes", writes);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartArray("mmioPages");
        foreach (var (page, reads, writes) in stats.MmioPages())
        {
            j.WriteStartObject();
            j.WriteNumber("page", page);
            j.WriteNumber("reads", reads);
            j.WriteNumber("writes", writes);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartObject("roundTrips");
        j.WriteNumber("count", stats.RoundTrips);
        double[] p = stats.RoundTripLatency.PercentilesMicros(Percentiles);
        if (p.Length > 0)
        {
            j.WriteNumber("p50Micros", p[0]);
            j.WriteNumber("p90Micros", p[1]);
            j.WriteNumber("p99Micros", p[2]);
        }
        j.WriteNumber("stamped", stats.ServiceLatency.Count);
        WriteSplit(j, "toDeviceModel", stats.ToDeviceLatency);
        WriteSplit(j, "service", stats.ServiceLatency);
        WriteSplit(j, "back", stats.BackLatency);
        j.WriteEndObject();
        RuntimeCounters rt = RuntimeCounters.Now();
        j.WriteStartObject("monitorRuntime");
        j.WriteNumber("gcGen0", rt.Gen0);
        j.WriteNumber("gcGen1", rt.Gen1);
        j.WriteNumber("gcGen2", rt.Gen2);
        j.WriteNumber("gcPauseMicros", rt.PauseMicros);
        j.WriteNumber("allocatedBytes", rt.AllocatedBytes);
        j.WriteNumber("exitPathAllocatedBytes", stats.ExitPathAllocatedBytes);
        j.WriteNumber("roundTripsSpanningGc", stats.RoundTripsSpanningGc);
        j.WriteEndObject();
        j.WriteStartObject("refused");
        foreach (var (what, count) in stats.Refused()) j.WriteNumber(RefusalNames.Name(what), count);
        j.WriteEndObject();
        j.WriteNumber("refusedTotal", stats.RefusedTotal);
        j.WriteNumber("irqEdges", stats.IrqEdges);
        j.WriteNumber("stateFetches", stats.StateFetches);
        j.WriteNumber("stateServedFromPage", stats.StateServedFromPage);
        j.WriteNumber("stateCommits", stats.StateCommits);
        j.WriteNumber("commitRoundTrips", stats.CommitRoundTrips);
        j.WriteNumber("batchedWrites", stats.BatchedWrites);
        j.WriteStartObject("cachedReads");
        j.WriteNumber("hits", stats.CachedReadHits);
        j.WriteNumber("misses", stats.CachedReadMisses);
        j.WriteNumber("stale", stats.CachedReadStale);
        j.WriteEndObject();
        j.WriteStartObject("flushes");
        foreach (var kv in stats.FlushesByReason) j.WriteNumber(kv.Key, kv.Value);
        j.WriteEndObject();
        j.WriteNumber("halts", stats.Halts);
        if (paravirt is { } pv)
        {
            j.WriteStartObject("paravirt");
            j.WriteNumber("hypercalls", pv.Hypercalls);
            j.WriteNumber("pvClockUpdates", pv.PvClockUpdates);
            j.WriteNumber("inlinedHotCalls", pv.InlinedHotCalls);
            j.WriteNumber("nativeInlinedHotCalls", pv.NativeInlinedHotCalls);
            j.WriteStartObject("callTable");
            foreach (var kv in pv.CallTable) j.WriteNumber(kv.Key, kv.Value);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        if (firmware is { } fw)
        {
            j.WriteStartObject("firmware");
            j.WriteNumber("reflections", fw.Reflections);
            j.WriteNumber("handlerInstructions", fw.HandlerInstructions);
            j.WriteNumber("monitorCalls", fw.MonitorCalls);
            if (fw.Failure is { } failed) j.WriteString("failure", failed.ToString());
            else j.WriteNull("failure");
            j.WriteEndObject();
        }
        if (engine is { } e)
        {
            j.WriteStartObject("engine");
            j.WriteString("name", e.Engine);
            j.WriteNumber("blocksTranslated", e.BlocksTranslated);
            j.WriteNumber("translationMillis", e.TranslationMillis);
            j.WriteNumber("medianNativeCompileMicros", e.MedianNativeCompileMicros);
            j.WriteNumber("nativeCalls", e.NativeCalls);
            j.WriteNumber("nativeInstructions", e.NativeInstructions);
            j.WriteNumber("nativeHandlerCalls", e.NativeHandlerCalls);
            j.WriteNumber("nativeInterpretExits", e.NativeInterpretExits);
            j.WriteNumber("nativeCountdownExits", e.NativeCountdownExits);
            j.WriteNumber("nativeDispatchMisses", e.NativeDispatchMisses);
            j.WriteNumber("nativeDeclined", e.NativeDeclined);
            j.WriteNumber("codeCacheBytes", e.CodeCacheBytes);
            j.WriteNumber("codeCacheFlushes", e.CodeCacheFlushes);
            j.WriteNumber("nativeLinks", e.NativeLinks);
            j.WriteStartObject("handlerCallsByOp");
            foreach (var kv in e.NativeStops) j.WriteNumber(kv.Key, kv.Value);
            j.WriteEndObject();
            j.WriteStartObject("nativeMissesByOp");
            foreach (var kv in e.NativeMisses) j.WriteNumber(kv.Key, kv.Value);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        j.WriteStartObject("deviceModelCounters");
        j.WriteNumber("exitsServed", deviceCounters.ExitsServed);
        j.WriteNumber("irqChanges", deviceCounters.IrqChanges);
        j.WriteNumber("unhandled", deviceCounters.Unhandled);
        j.WriteNumber("stateFromPage", deviceCounters.StateFromPage);
        j.WriteNumber("stateRoundTrips", deviceCounters.StateRoundTrips);
        j.WriteNumber("commitRoundTrips", deviceCounters.CommitRoundTrips);
        j.WriteNumber("batchedWritesDrained", deviceCounters.BatchedWritesDrained);
        j.WriteEndObject();
        // Every counter of every device that reported, zeros included: "com1": { "tx_bytes": 12, ... }.
        j.WriteStartObject("devices");
        foreach (DeviceCounterRow row in devices?.Rows ?? [])
        {
            j.WriteStartObject(row.Key);
            foreach (var (name, value) in row.Counters) j.WriteNumber(name, value);
            j.WriteEndObject();
        }
        j.WriteEndObject();
        timeline?.WriteJson(j);
        j.WriteEndObject();
    }
}
