using System.Diagnostics;
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
    public sealed record Result(WakeMode Mode, bool Loaded, long RoundTrips, double P50, double P90, double P99, double Mean,
        double CpuMonitorSeconds, double CpuDeviceModelSeconds, double LoadBefore, string Spin);

    /// <param name="load">idle, busy (a spinning process per CPU beside) or both.</param>
    public static async Task<int> RunAsync(int iterations, IReadOnlyList<WakeMode> modes, int spinMicros, string load, string dm)
    {
        Console.Error.WriteLine($"virt bench wakeup: {iterations} round trips per option, monitor and {dm} as two processes, {Environment.ProcessorCount} CPUs");
        var results = new List<Result>();
        foreach (bool loaded in load switch { "idle" => new[] { false }, "busy" => new[] { true }, _ => new[] { false, true } })
        {
            using BusyLoad? busy = loaded ? BusyLoad.Start() : null;
            if (busy is not null) Console.Error.WriteLine($"loaded: {busy.Description}");
            foreach (WakeMode m in modes) results.Add(await MeasureAsync(m, spinMicros, iterations, dm, loaded));
        }
        Console.WriteLine($"{"wake-up",-12} {"machine",-7} {"load1",5} {"p50 us",8} {"p90 us",8} {"p99 us",8} {"mean us",8} {"cpu mon",8} {"cpu dm",8}  (cpu: s per 1M round trips)");
        foreach (Result r in results)
            Console.WriteLine($"{ModeName(r.Mode),-12} {(r.Loaded ? "busy" : "idle"),-7} {r.LoadBefore,5:F2} {r.P50,8:F2} {r.P90,8:F2} {r.P99,8:F2} {r.Mean,8:F2} {r.CpuMonitorSeconds,8:F2} {r.CpuDeviceModelSeconds,8:F2}{r.Spin}");
        return 0;
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

    private static async Task<Result> MeasureAsync(WakeMode mode, int spinMicros, int iterations, string dm, bool loaded)
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
            SharedRegion comm = (await manager.WaitAttachedAsync(launched, TimeSpan.FromSeconds(20))).Comm;
            using Socket? doorbell = doorbellAccept is null ? null : await doorbellAccept.WaitAsync(TimeSpan.FromSeconds(5));

            var port = new DeviceModelPort(comm, 0, mode, spinMicros, stats, () => !proc.HasExited, null, StateBits.None, TimeSpan.FromSeconds(10), doorbell);
            // Warm up (JIT tiers, page faults), then measure with fresh statistics.
            for (int i = 0; i < 2000; i++) port.PortRead(0xBE00, 1);
            var measured = new ExitStatistics();
            var timed = new DeviceModelPort(comm, 0, mode, spinMicros, measured, () => !proc.HasExited, null, StateBits.None, TimeSpan.FromSeconds(10), doorbell);
            double loadBefore = ProcessCpu.LoadAverage();
            long cpuMon = ProcessCpu.Nanoseconds(Environment.ProcessId), cpuDm = ProcessCpu.Nanoseconds(proc.Pid);
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++)
            {
                ushort p = (ushort)(0xBE00 + (i & 0xFF));
                ulong v = timed.Exchange(ExitReason.PortIo, p, 4, ExitDirection.Read, 0, ExitFlags.None, 1);
                if (v != (ulong)p + 1) throw new InvalidOperationException($"round trip {i}: got 0x{v:X} for port 0x{p:X} ({timed.Failed})");
            }
            sw.Stop();
            long cpuMonAfter = ProcessCpu.Nanoseconds(Environment.ProcessId), cpuDmAfter = ProcessCpu.Nanoseconds(proc.Pid);
            double PerMillion(long before, long after) => before < 0 || after < 0 ? -1 : (after - before) / 1e9 * 1_000_000 / iterations;
            string spin = timed.ToMonitor.Adaptive is null ? ""
                : $"  (monitor waits: {timed.ToMonitor.SpunWaits} spun, {timed.ToMonitor.SleptWaits} slept, learned {timed.ToMonitor.Adaptive.MeanTicks * 1e6 / Stopwatch.Frequency:F1} us)";
            double[] pct = measured.RoundTripLatency.PercentilesMicros(50, 90, 99);
            await manager.ShutdownAsync(0, "benchmark done");
            manager.DisposeRegions();
            return new Result(mode, loaded, measured.RoundTrips, pct[0], pct[1], pct[2], sw.Elapsed.TotalMicroseconds / iterations,
                PerMillion(cpuMon, cpuMonAfter), PerMillion(cpuDm, cpuDmAfter), loadBefore, spin);
        }
        finally
        {
            dir.Remove();
        }
    }
}
