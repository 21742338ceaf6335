using System.Text.Json;
using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Observing;

/// <summary>`virt top` against a real running guest (the counter guest: COM1 output forever through virt-dm).</summary>
public class TopTests
{
    private static async Task<VirtRun> StartCounterGuestAsync()
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.CounterForever());
        var run = VirtRun.Start(["run", "--kernel", kernel]);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > 20, "guest output");
        return run;
    }

    [Fact]
    public async Task Virt_top_in_a_terminal_shows_live_counters_sorts_freezes_and_quits_on_q()
    {
        using var run = await StartCounterGuestAsync();
        // The VM is left out: exactly one runs, virt top takes it.
        string[] script =
        [
            @"wait exits by reason",
            @"wait instructions.*\(.*\)[\s\S]*instructions.*\(.*\)[\s\S]*instructions.*\(.*\)",
            @"keys t",
            @"wait sort: total",
            @"keys  ",
            @"wait FROZEN",
            @"keys  ",
            @"wait sort: total",
            @"keys q",
        ];
        var (status, screen, errors) = await PseudoTerminal.RunAsync(run.RuntimeDir, script, 60, 200, "top", "-d", "0.3");
        Assert.True(status == 0, $"driver {status}: {errors}\nscreen:\n{screen}\n{run.Describe()}");
        Assert.Contains("[pty driver: virt exited 0]", screen);
        foreach (string header in (string[])["virt top", "running", "exits by reason", "exits per device model", "exits per device",
                     "busiest ports and MMIO pages", "device counters", "io-out", "com1", "port 0x3F8", "virt-dm", "round trips", "batched writes", "cached IN hits"])
            Assert.Contains(header, screen);
        // The numbers move: the guest runs on, so successive frames show more instructions and more exits.
        List<long> instructions = PseudoTerminal.Totals(screen, "instructions");
        Assert.True(instructions.Count >= 3 && instructions.Distinct().Count() >= 2 && instructions[^1] > instructions[0],
            $"instruction totals per frame: {string.Join(", ", instructions)}\n{screen}");
        List<long> exits = PseudoTerminal.Totals(screen, "exits");
        Assert.True(exits.Distinct().Count() >= 2, $"exit totals per frame: {string.Join(", ", exits)}\n{screen}");
        // virt top only reads: the guest is still running and printing.
        int before = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > before + 5, "more guest output after virt top quit");
    }

    [Fact]
    public async Task Virt_top_once_and_json_print_one_view_of_the_running_guest()
    {
        using var run = await StartCounterGuestAsync();
        string vm = run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // The device model's counters come by a control message with a deadline: on a loaded machine one view may lack them, the next has them.
        string json = "";
        for (int attempt = 0; attempt < 5 && !json.Contains("com1 tx_bytes", StringComparison.Ordinal); attempt++)
        {
            var (code, output, err) = await VirtCli.RunAsync(run.RuntimeDir, "top", vm, "--json", "-d", "0.3");
            Assert.True(code == 0, $"{code} {err}\n{run.Describe()}");
            json = output;
        }
        using var doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.Equal("running", root.GetProperty("state").GetString());
        Assert.True(root.GetProperty("intervalSeconds").GetDouble() > 0);
        Assert.True(root.GetProperty("instructions").GetProperty("total").GetInt64() > 0);
        Assert.True(root.GetProperty("instructions").GetProperty("perSecond").GetDouble() > 0, json);
        JsonElement ioOut = root.GetProperty("exitsByReason").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "io-out");
        Assert.True(ioOut.GetProperty("total").GetInt64() > 0 && ioOut.GetProperty("perSecond").GetDouble() > 0, json);
        JsonElement com1 = root.GetProperty("devices").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "com1");
        Assert.Contains("virt-dm", com1.GetProperty("detail").GetString());
        Assert.Contains(root.GetProperty("addresses").EnumerateArray(), a => a.GetProperty("name").GetString() == "port 0x3F8");
        Assert.Contains(root.GetProperty("deviceModels").EnumerateArray(), m => m.GetProperty("name").GetString() == "1 virt-dm" && m.GetProperty("total").GetInt64() > 0);
        Assert.Contains(root.GetProperty("deviceCounters").EnumerateArray(), c => c.GetProperty("name").GetString() == "com1 tx_bytes" && c.GetProperty("total").GetInt64() > 0);
        Assert.True(root.GetProperty("totals").GetProperty("round trips").GetProperty("total").GetInt64() > 0, json);

        // Without a terminal on stdout, virt top prints one view as text (as --once does) and the VM argument may be left out.
        var (onceCode, text, onceErr) = await VirtCli.RunAsync(run.RuntimeDir, "top", "-d", "0.3");
        Assert.True(onceCode == 0, $"{onceCode} {onceErr}");
        Assert.Contains($"virt top: vm-{vm}-", text);
        Assert.Contains("exits by reason", text);
        Assert.Contains("io-out", text);
        Assert.Contains("port 0x3F8", text);
        Assert.Contains("com1 tx_bytes", text);
    }

    [Fact]
    public async Task Virt_top_without_a_running_vm_or_with_bad_options_says_so()
    {
        string empty = TempDir.Create("virt-rt");
        var (code, _, err) = await VirtCli.RunAsync(empty, "top", "--once");
        Assert.Equal(2, code);
        Assert.Contains("no running VM", err);
        (code, _, err) = await VirtCli.RunAsync(empty, "top", "--sort", "colour");
        Assert.Equal(2, code);
        Assert.Contains("--sort colour: expected rate, total or name", err);
        (code, _, err) = await VirtCli.RunAsync(empty, "top", "-d", "0");
        Assert.Equal(2, code);
        Assert.DoesNotContain("   at ", err);
    }
}
