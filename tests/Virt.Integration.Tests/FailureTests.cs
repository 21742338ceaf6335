using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests;

/// <summary>The device model dies, the monitor dies, the device model writes garbage.</summary>
public class FailureTests
{
    [Fact]
    public async Task Killing_the_device_model_mid_run_pauses_the_guest_and_leaves_nothing_behind()
    {
        // The guest waits for a new device model (DeviceModels/SwapAndRecoveryTests resume it); here it is interrupted.
        string kernel = TempDir.WriteImage(TestGuests.TickForever());
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick") && Regex.IsMatch(run.Stderr, @"device model pid \d+"), "guest output");
        int dmPid = int.Parse(Regex.Match(run.Stderr, @"device model pid (\d+)").Groups[1].Value);
        using (var dm = Process.GetProcessById(dmPid)) dm.Kill();
        await run.WaitUntilAsync(() => run.Stderr.Contains("the guest is paused until a device model attaches"), "the pause");
        using (var virt = Process.GetProcessById(run.Pid)) Assert.False(virt.HasExited);
        Virt.Integration.Tests.DeviceModels.VirtCli.Signal(run.Pid, "INT");
        int status = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(status == 130, $"status {status}\n{run.Describe()}");
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task When_the_monitor_dies_the_device_model_exits_and_removes_the_vm_directory()
    {
        string kernel = TempDir.WriteImage(TestGuests.TickForever());
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick") && Regex.IsMatch(run.Stderr, @"device model pid \d+"), "guest output");
        int dmPid = int.Parse(Regex.Match(run.Stderr, @"device model pid (\d+)").Groups[1].Value);
        using var dm = Process.GetProcessById(dmPid);
        using (var virt = Process.GetProcessById(run.Pid)) virt.Kill(); // SIGKILL: no cleanup by the monitor
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await dm.WaitForExitAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        while (run.LeftoverVmDirectories().Length > 0 && sw.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(50);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task Garbage_from_a_hostile_device_model_is_refused_and_counted_and_the_guest_finishes()
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("still standing\r\n", 5));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        // --io naive: every access is an exit of its own, so each kind of garbage meets reads and writes (Io/HostileBatchingTests covers the batched path).
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats, "--io", "naive", "--dm", TestDeviceModels.Spec("virt-dm-hostile", "--hostile")]);
        int status = await run.WaitAsync();
        Assert.True(status == 11, $"status {status}\n{run.Describe()}");
        Assert.Contains("still standing", run.Stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        var refused = json.RootElement.GetProperty("refused");
        foreach (string kind in new[] { "completion-seq", "state-commit", "irq-lines", "exit-record-changed", "data-width", "status", "state-wanted" })
        {
            Assert.True(refused.TryGetProperty(kind, out var n) && n.GetInt64() > 0, $"no '{kind}' refusal counted: {refused}\n{run.Describe()}");
        }
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task Random_bytes_at_the_comm_page_never_crash_the_monitor()
    {
        // A bounded fuzz run (issue 13): a device model that scribbles random bytes over its comm page before
        // every completion, 20 seeds. The guest may end oddly (its reads are garbage, a fuzzed StatusArg may
        // become its exit value), but the monitor must end every run itself: no crash, no internal error, no hang.
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("fuzzed\r\n", 5));
        const int Seeds = 20;
        long refusals = 0;
        for (int seed = 1; seed <= Seeds; seed++)
        {
            string stats = Path.Combine(Path.GetDirectoryName(kernel)!, $"stats-{seed}.json");
            // --io naive: every access is an exit of its own, so each meets the fuzz.
            using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats, "--dm-timeout", "5", "--io", "naive",
                "--dm", TestDeviceModels.Spec("virt-dm-hostile", "--fuzz", seed.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            int status = await run.WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(status is not (8 or 134 or 2), $"seed {seed}: status {status}\n{run.Describe()}");
            Assert.DoesNotContain("Unhandled exception", run.Stderr);
            Assert.DoesNotContain("internal error", run.Stderr);
            using var json = JsonDocument.Parse(File.ReadAllText(stats));
            refusals += json.RootElement.GetProperty("refusedTotal").GetInt64();
            Assert.Empty(run.LeftoverVmDirectories());
        }
        Console.WriteLine($"comm page fuzz: {Seeds} runs, {refusals} refusals, 0 crashes");
    }
}
