using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using Virt.Monitor.Attachment;
using Virt.Monitor.Cli;
using Virt.Monitor.Control;
using Virt.Monitor.Launch;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Transport;
using Virt.Monitor.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Bench;

/// <summary>
/// `virt bench wakeup`: the round-trip latency of the real exit path (comm page exit record,
/// doorbells, a real virt-dm process serving the exit) with each wake-up option.
/// </summary>
public static class WakeupBenchmark
{
    /// <param name="CpuMonitorSeconds">CPU seconds of the monitor process per million round trips (-1: unknown); likewise the device model.</param>
    /// <param name="BytesMonitor">Bytes the monitor's exit thread allocated per round trip; likewise the device model's exit thread (-1: it did not say).</param>
    /// <param name="GcMonitor">The process's garbage collections and GC pause during the measured round trips; likewise the device model.</param>
    /// <param name="Split">p50/p90/p99 µs of the three parts of a round trip (to the device model, its service, back); null: not stamped.</param>
    public sealed record Result(WakeMode Mode, bool Loaded, long RoundTrips, double P50, double P90, double P99, double Mean,
        double CpuMonitorSeconds, double CpuDeviceModelSeconds, double LoadBefore, string Spin,
        double BytesMonitor, double BytesDeviceModel, RuntimeCounters GcMonitor, RuntimeCounters? GcDeviceModel, double[][]? Split)
    {
        /// <summary>Bytes the monitor's exit thread allocated over the measured round trips (exact).</summary>
        public long MonitorAllocated { get; init; }

        /// <summary>Bytes the device model's exit thread allocated and the exits it served meanwhile (its runtime counters); null: it did not say.</summary>
        public (long Bytes, long Exits)? DeviceModelAllocated { get; init; }

        /// <summary>The load it ran beside: idle, busy, busy-all.</summary>
        public string Machine { get; init; } = Loaded ? "busy" : "idle";
    }

    /// <param name="load">idle, busy (a busy loop pinned to the last CPU beside), busy-all (one on every CPU) or both (idle, then busy).</param>
    public static async Task<int> RunAsync(int iterations, IReadOnlyList<WakeMode> modes, int spinMicros, string load, string dm)
    {
        Console.Error.WriteLine($"virt bench wakeup: {iterations} round trips per option, monitor and {dm} as two processes, {Environment.ProcessorCount} CPUs");
        var results = new List<Result>();
        foreach (string machine in load switch { "both" => new[] { "idle", "busy" }, _ => new[] { load } })
        {
            using BusyLoad? busy = machine == "idle" ? null : BusyLoad.Start(everyCpu: machine == "busy-all");
            if (busy is not null) Console.Error.WriteLine($"loaded: {busy.Description}");
            foreach (WakeMode m in modes) results.Add(await MeasureAsync(m, spinMicros, iterations, dm, busy is not null) with { Machine = machine });
        }
        Console.WriteLine($"{"wake-up",-12} {"machine",-8} {"load1",5} {"p50 us",8} {"p90 us",8} {"p99 us",8} {"mean us",8} {"cpu mon",8} {"cpu dm",8}  (cpu: s per 1M round trips)");
        foreach (Result r in results)
            Console.WriteLine($"{ModeName(r.Mode),-12} {r.Machine,-8} {r.LoadBefore,5:F2} {r.P50,8:F2} {r.P90,8:F2} {r.P99,8:F2} {r.Mean,8:F2} {r.CpuMonitorSeconds,8:F2} {r.CpuDeviceModelSeconds,8:F2}{r.Spin}");
        Console.WriteLine();
        Console.WriteLine("where the time goes (p50/p90/p99 us, from the device model's stamps) and the runtime's share, during the measured round trips:");
        Console.WriteLine($"{"wake-up",-12} {"machine",-8} {"to dm",-20} {"service",-20} {"back",-20} {"B/rt mon",8} {"B/rt dm",8} {"gc mon",-14} {"gc dm",-14}");
        foreach (Result r in results)
            Console.WriteLine($"{ModeName(r.Mode),-12} {r.Machine,-8} {Triple(r.Split, 0),-20} {Triple(r.Split, 1),-20} {Triple(r.Split, 2),-20} "
                + $"{r.BytesMonitor,8:F2} {(r.BytesDeviceModel < 0 ? "?" : r.BytesDeviceModel.ToString("F2", CultureInfo.InvariantCulture)),8} {Gc(r.GcMonitor),-14} {(r.GcDeviceModel is { } g ? Gc(g) : "?"),-14}");
        Console.WriteLine("(B/rt: bytes allocated per round trip by the monitor's exit thread and the device model's; gc: collections, pause in ms)");
        return 0;
    }

    private static string Triple(double[][]? split, int part) =>
        split is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{split[part][0]:F2}/{split[part][1]:F2}/{split[part][2]:F2}");

    private static string Gc(RuntimeCounters g) => string.Create(CultureInfo.InvariantCulture, $"{g.Collections} {g.PauseMicros / 1000.0:F2}ms");

    /// <summary>The device model's runtime counters (MetricsReport, device "runtime"): null when it did not answer.</summary>
    private static async Task<(RuntimeCounters Runtime, long ExitBytes, long Served, long Spun, long Yielded, long Slept)?> DeviceModelRuntimeAsync(DeviceModelAttachment att)
    {
        IReadOnlyList<CounterValue>? report = await att.RequestMetricsAsync(TimeSpan.FromSeconds(10));
        if (report is null) return null;
        var mine = report.Where(c => c.Device == RuntimeCounters.DeviceName).Select(c => (c.Counter, (long)c.Value)).ToList();
        if (mine.Count == 0) return null;
        long Named(string name) => mine.FirstOrDefault(c => c.Counter == name).Item2;
        return (RuntimeCounters.FromNamed(mine), Named("exit_thread_bytes"), Named("exits_served"),
            Named("exit_waits_spun"), Named("exit_waits_yielded"), Named("exit_waits_slept"));
    }

    public static WakeMode ParseMode(string s) => s switch
    {
        "spin" => WakeMode.Spin,
        "spin-futex" => WakeMode.SpinFutex,
        "futex" => WakeMode.Futex,
        "socket" => WakeMode.Socket,
        "adaptive" => WakeMode.Adaptive,
        _ => throw new ArgumentException($"unknown wake-up mode '{s}' (adaptive, spin, spin-futex, futex, socket)"),
    };

    public static string ModeName(WakeMode m) => m switch
    {
        WakeMode.Spin => "spin",
        WakeMode.SpinFutex => "spin-futex",
        WakeMode.Futex => "futex",
        WakeMode.Adaptive => "adaptive",
        _ => "socket",
    };

    /// <summary>One option measured: a fresh device model, 2000 warm-up round trips, then <paramref name="iterations"/> measured.</summary>
    public static async Task<Result> MeasureAsync(WakeMode mode, int spinMicros, int iterations, string dm, bool loaded)
    {
        VmDirectory dir = VmDirectory.Create();
        try
        {
            using SharedRegion ram = SharedRegion.Create(dir.RamFile, 4096);
            byte[] secret = RandomNumberGenerator.GetBytes(Protocol.SecretSize);
            var stats = new ExitStatistics();
            var router = new ExitRouter(stats) { RamSize = 4096 };
            // The real attach path (no VCPU: the gate never waits), then this benchmark drives the attachment's comm page itself.
            var options = new RunOptions { MemoryBytes = 4096, Wake = mode, SpinMicros = spinMicros, Quiet = true };
            var manager = new AttachmentManager(dir, secret, router, new VcpuGate(() => { }), stats, options, null, new IrqLineMux((_, _) => { }), () => false);
            await using var server = new ControlServer(dir.SocketFile, manager, () => 0);
            server.Start();
            using var doorbellListener = mode == WakeMode.Socket ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) : null;
            Task<Socket>? doorbellAccept = null;
            if (doorbellListener is not null)
            {
                doorbellListener.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir.Path, "doorbell.sock")));
                doorbellListener.Listen(1);
                doorbellAccept = doorbellListener.AcceptAsync();
            }
            var launched = manager.Start(new DeviceModelCommand(dm, []));
            DeviceModelProcess proc = launched.Process;
            DeviceModelAttachment attachment = await manager.WaitAttachedAsync(launched, TimeSpan.FromSeconds(20));
            SharedRegion comm = attachment.Comm;
            using Socket? doorbell = doorbellAccept is null ? null : await doorbellAccept.WaitAsync(TimeSpan.FromSeconds(5));

            var port = new DeviceModelPort(comm, 0, mode, spinMicros, stats, () => !proc.HasExited, null, StateBits.None, TimeSpan.FromSeconds(10), doorbell);
            // Warm up (JIT tiers, page faults), then measure with fresh statistics.
            for (int i = 0; i < 2000; i++) port.PortRead(0xBE00, 1);
            var measured = new ExitStatistics();
            var timed = new DeviceModelPort(comm, 0, mode, spinMicros, measured, () => !proc.HasExited, null, StateBits.None, TimeSpan.FromSeconds(10), doorbell);
            double loadBefore = ProcessCpu.LoadAverage();
            var dmBefore = await DeviceModelRuntimeAsync(attachment);
            RuntimeCounters monBefore = RuntimeCounters.Now();
            long cpuMon = ProcessCpu.Nanoseconds(Environment.ProcessId), cpuDm = ProcessCpu.Nanoseconds(proc.Pid);
            var sw = Stopwatch.StartNew();
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < iterations; i++)
            {
                ushort p = (ushort)(0xBE00 + (i & 0xFF));
                ulong v = timed.Exchange(ExitReason.PortIo, p, 4, ExitDirection.Read, 0, ExitFlags.None, 1);
                if (v != (ulong)p + 1) throw new InvalidOperationException($"round trip {i}: got 0x{v:X} for port 0x{p:X} ({timed.Failed})");
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            sw.Stop();
            long cpuMonAfter = ProcessCpu.Nanoseconds(Environment.ProcessId), cpuDmAfter = ProcessCpu.Nanoseconds(proc.Pid);
            RuntimeCounters monGc = RuntimeCounters.Now().Since(monBefore);
            var dmAfter = await DeviceModelRuntimeAsync(attachment);
            RuntimeCounters? dmGc = dmBefore is { } b0 && dmAfter is { } a0 ? a0.Runtime.Since(b0.Runtime) : null;
            (long Bytes, long Exits)? dmAllocated = dmBefore is { } b1 && dmAfter is { } a1 ? (a1.ExitBytes - b1.ExitBytes, a1.Served - b1.Served) : null;
            double dmBytes = dmAllocated is { Exits: > 0 } d ? (double)d.Bytes / d.Exits : -1;
            double[][]? split = measured.ServiceLatency.Count == 0 ? null :
                [measured.ToDeviceLatency.PercentilesMicros(50, 90, 99), measured.ServiceLatency.PercentilesMicros(50, 90, 99), measured.BackLatency.PercentilesMicros(50, 90, 99)];
            double PerMillion(long before, long after) => before < 0 || after < 0 ? -1 : (after - before) / 1e9 * 1_000_000 / iterations;
            // How the adaptive waits ended, spun/yielded/slept, on each side (the device model's from its runtime counters).
            string dmWaits = dmBefore is { } b2 && dmAfter is { } a2 ? $"{a2.Spun - b2.Spun}/{a2.Yielded - b2.Yielded}/{a2.Slept - b2.Slept}" : "?";
            string spin = timed.ToMonitor.Adaptive is null ? ""
                : $"  (waits spun/yielded/slept: monitor {timed.ToMonitor.SpunWaits}/{timed.ToMonitor.YieldedWaits}/{timed.ToMonitor.SleptWaits}, "
                + $"device model {dmWaits}; monitor learned {timed.ToMonitor.Adaptive.MeanTicks * 1e6 / Stopwatch.Frequency:F1} us)";
            double[] pct = measured.RoundTripLatency.PercentilesMicros(50, 90, 99);
            await manager.ShutdownAsync(0, "benchmark done");
            manager.DisposeRegions();
            return new Result(mode, loaded, measured.RoundTrips, pct[0], pct[1], pct[2], sw.Elapsed.TotalMicroseconds / iterations,
                PerMillion(cpuMon, cpuMonAfter), PerMillion(cpuDm, cpuDmAfter), loadBefore, spin,
                (double)allocated / iterations, dmBytes, monGc, dmGc, split)
            {
                MonitorAllocated = allocated,
                DeviceModelAllocated = dmAllocated,
            };
        }
        finally
        {
            dir.Remove();
        }
    }
}
