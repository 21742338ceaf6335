using System.Text.Json;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>Several device models on one VM: each serves its own claims; overlaps are refused; unclaimed accesses are counted.</summary>
public class MultipleDeviceModelTests
{
    [Fact]
    public async Task Two_device_models_serve_their_own_ranges_and_unclaimed_accesses_are_counted()
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.TwoModels());
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats,
            "--dm", "virt-dm", "--dm", "virt-harness --debugcon 0x402 --exit 0x501"]);
        int status = await run.WaitAsync();
        Assert.True(status == 7, $"status {status}\n{run.Describe()}");
        Assert.Contains("com1 ok", run.Stdout);
        Assert.Contains("checks ok", run.Stdout);
        Assert.Contains("H\n", run.Stdout);
        // Ids follow the order of the Hellos, which two processes started together race for.
        Assert.True(Regex.IsMatch(run.Stderr, @"device model \d 'virt-dm'.*attached"), $"{run.Stderr}\n{run.Describe()}");
        Assert.True(Regex.IsMatch(run.Stderr, @"device model \d 'virt-harness'.*attached: debugcon ports 0x402-0x402, debug-exit ports 0x501-0x501, scratch"), $"{run.Stderr}\n{run.Describe()}");
        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        Assert.Equal(2, json.RootElement.GetProperty("exitsByTarget").GetProperty("unclaimed").GetInt64());
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task An_overlapping_claim_is_refused_and_the_running_guest_is_not_disturbed()
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.CounterForever());
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > 20, "guest output");
        string vm = run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // The harness claims the debug console 0xE9 and exit port 0xF4, which virt-dm already has.
        var (code, _, err) = await VirtCli.RunAsync(run.RuntimeDir, "attach", vm, "--dm", "virt-harness");
        Assert.True(code == 1, $"attach: {code} {err}\n{run.Describe()}");
        Assert.Contains("overlaps ports 0xE9-0xE9 already claimed by 'debugcon' (device model 1 'virt-dm')", run.Stderr);

        var (listCode, list, _) = await VirtCli.RunAsync(run.RuntimeDir, "list");
        Assert.Equal(0, listCode);
        Assert.True(Regex.IsMatch(list, @"1\s+virt-dm\s+\d+\s+active"), $"{list}\n{run.Describe()}");
        // A handshake that ended before Ready is forgotten with everything it was given (issue 13): not listed.
        Assert.False(list.Contains("virt-harness", StringComparison.Ordinal), $"{list}\n{run.Describe()}");
        int before = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > before + 20, "more guest output");

        VirtCli.Signal(run.Pid, "INT");
        Assert.Equal(130, await run.WaitAsync());
        List<uint?> lines = VirtCli.CounterLines(run.Stdout);
        for (int i = 0; i < lines.Count; i++) Assert.True(lines[i] == (uint)i, $"line {i}: {lines[i]}\n{run.Stdout[^Math.Min(run.Stdout.Length, 120)..].Replace("\r", "<CR>").Replace("\n", "<LF>")}\n{run.Stderr}");
        Assert.Empty(run.LeftoverVmDirectories());
    }

    /// <summary>
    /// Platform events (end, reset, A20) belong to the device models the VM was started with: a model
    /// attached later that claims a free port with PlatformEvents is refused (issue 13), and the guest runs on.
    /// </summary>
    [Fact]
    public async Task A_model_attached_later_may_not_claim_platform_events()
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.CounterForever());
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > 20, "guest output");
        string vm = run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // Free ports, but the exit port would let this model end the VM.
        var (code, _, err) = await VirtCli.RunAsync(run.RuntimeDir, "attach", vm, "--dm", "virt-harness --debugcon 0x402 --exit 0x501 --scratch none");
        Assert.True(code == 1, $"attach: {code} {err}\n{run.Describe()}");
        Assert.Contains("platform events are for the device models the VM was started with", run.Stderr);

        // Without the exit port the same model attaches.
        (code, _, err) = await VirtCli.RunAsync(run.RuntimeDir, "attach", vm, "--dm", "virt-harness --debugcon 0x402 --exit none --scratch none");
        Assert.True(code == 0, $"attach: {code} {err}\n{run.Describe()}");
        int before = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > before + 20, "more guest output");
        VirtCli.Signal(run.Pid, "INT");
        Assert.Equal(130, await run.WaitAsync());
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task A_device_model_in_python_attaches_from_the_docs_and_serves_a_port()
    {
        string script = Path.Combine(VirtCli.PythonDir(), "echo_dm.py");
        string kernel = TempDir.WriteImage(DeviceModelGuests.PythonEcho());
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "virt-dm", "--dm", script]);
        int status = await run.WaitAsync();
        // The guest wrote 0x41, read back 0x42 from Python, and wrote that to the exit port: (0x42 << 1) | 1.
        Assert.True(status == 0x85, $"status {status}\n{run.Describe()}");
        Assert.True(Regex.IsMatch(run.Stderr, @"device model 2 'py-echo'.*attached: py-echo ports 0x510-0x510"), $"{run.Stderr}\n{run.Describe()}");
        Assert.Empty(run.LeftoverVmDirectories());
    }
}
