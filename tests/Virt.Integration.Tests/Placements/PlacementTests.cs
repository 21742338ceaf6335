using System.Text.Json;
using Iced.Intel;
using Virt.Integration.Tests.Cli;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Cli;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.Placements;

/// <summary>
/// `virt run --place DEV=dm|monitor|firmware` (docs/placements.md): the values and their errors, and COM1
/// placed in the monitor: the guest prints through it and reads what is typed on virt's stdin, every
/// access to it served at the exit (no device model sees one), its counters under the monitor.
/// </summary>
public class PlacementTests
{
    [Theory]
    [InlineData("com1=cloud", "expected dm, monitor or firmware")]
    [InlineData("com2=monitor", "the device 'com2' cannot be placed (placeable: com1)")]
    [InlineData("com1", "expected DEV=dm|monitor|firmware")]
    [InlineData("=monitor", "expected DEV=dm|monitor|firmware")]
    [InlineData("com1=", "expected DEV=dm|monitor|firmware")]
    public async Task A_bad_place_is_one_clear_line_and_status_2(string value, string expected)
    {
        BundledProgram run = await BundledProgram.RunAsync("virt", ["run", "--demo", "--place", value]);
        Assert.True(run.Status == 2, $"status {run.Status}\n{run.Stdout}\n{run.Stderr}");
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("virt: --place ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void Place_values_are_read_per_device_and_the_last_one_wins()
    {
        Assert.Equal(Placement.DeviceModel, RunOptions.Parse(["--demo"]).PlacementOf("com1"));
        Assert.Equal(Placement.Monitor, RunOptions.Parse(["--demo", "--place", "com1=monitor"]).PlacementOf("com1"));
        Assert.Equal(Placement.DeviceModel, RunOptions.Parse(["--demo", "--place", "com1=monitor", "--place", "com1=dm"]).PlacementOf("com1"));
        Assert.Null(PlacementOption.DeviceModelDevices(RunOptions.Parse(["--demo", "--place", "com1=dm"]).Placements));
        Assert.Equal(["debugcon", "exit", "rtc", "post", "i8042", "pci"], PlacementOption.DeviceModelDevices(RunOptions.Parse(["--demo", "--place", "com1=monitor"]).Placements));
        Assert.Throws<Virt.CommandLine.UsageException>(() => RunOptions.Parse(["--restore", "x.snap", "--place", "com1=monitor"]));
    }

    /// <summary>
    /// Prints "ready", then echoes what arrives on COM1 (polling LSR.DR) until a newline, and exits with
    /// the number of bytes it read before it.
    /// </summary>
    private static byte[] EchoLine()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        g.Print("ready\r\n");
        Label poll = a.CreateLabel(), done = a.CreateLabel();
        a.xor(ebx, ebx);
        a.Label(ref poll);
        a.mov(dx, GuestAssembler.Com1Lsr);
        a.@in(al, dx);
        a.test(al, 1);
        a.jz(poll);
        a.mov(dx, GuestAssembler.Com1);
        a.@in(al, dx);
        a.cmp(al, (byte)'\n');
        a.je(done);
        a.inc(ebx);
        a.mov(ah, al);
        a.mov(dx, GuestAssembler.Com1Lsr);
        Label thre = a.CreateLabel();
        a.Label(ref thre);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(thre);
        a.mov(al, ah);
        a.mov(dx, GuestAssembler.Com1);
        a.@out(dx, al);
        a.jmp(poll);
        a.Label(ref done);
        g.Print("\r\n");
        a.mov(al, bl);
        a.@out((byte)GuestAssembler.ExitPort, al);
        a.cli();
        a.hlt();
        return g.Build();
    }

    [Fact]
    public async Task Com1_in_the_monitor_prints_and_reads_typed_input_without_a_round_trip()
    {
        string dir = TempDir.Create("virt-place");
        string stats = Path.Combine(dir, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(EchoLine()), "--place", "com1=monitor", "--stats", stats], keepInput: true);
        await run.WaitUntilAsync(() => run.Stdout.Contains("ready"), "the guest's first line");
        run.Type("placed\n");
        int status = await run.WaitAsync();
        Assert.True(status == (6 << 1 | 1), $"status {status}\n{run.Describe()}");
        Assert.Contains("placed", run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());

        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement root = doc.RootElement;
        // COM1's ports are the monitor's: no access to them reached a device model.
        foreach (JsonElement p in root.GetProperty("ports").EnumerateArray())
            if (p.GetProperty("port").GetInt32() is >= 0x3F8 and <= 0x3FF) Assert.Equal("com1", p.GetProperty("device").GetString());
        // The device model served the exit port alone: one exit, its one round trip.
        Assert.Equal(1, root.GetProperty("exitsByTarget").GetProperty("device-model").GetInt64());
        Assert.True(root.GetProperty("exitsByTarget").GetProperty("monitor").GetInt64() > 100);
        JsonElement com1 = root.GetProperty("devices").GetProperty("com1");
        Assert.Equal(7, com1.GetProperty("rx_bytes").GetInt64()); // "placed\n"
        Assert.Equal("ready\r\n".Length + "placed".Length + 2, com1.GetProperty("tx_bytes").GetInt64());
        Assert.Contains("com1       (monitor)", run.Stderr);
    }

    [Fact]
    public async Task Com1_in_the_monitor_writes_to_the_serial_file_and_the_device_model_leaves_it_out()
    {
        string dir = TempDir.Create("virt-place");
        string file = Path.Combine(dir, "com1.txt");
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(TestGuests.PrintAndExit("to the file\r\n", 3)), "--place", "com1=monitor", "--serial", "file:" + file]);
        int status = await run.WaitAsync();
        Assert.True(status == 7, $"status {status}\n{run.Describe()}");
        Assert.Equal("to the file\r\n", File.ReadAllText(file));
        Assert.DoesNotContain("to the file", run.Stdout);
        // virt-dm was started without COM1: its claims do not name it.
        string attached = run.Stderr.Split('\n').First(l => l.Contains("attached:"));
        Assert.DoesNotContain("com1", attached);
        Assert.Contains("rtc", attached);
    }

    [Fact]
    public async Task A_device_model_that_claims_com1_placed_in_the_monitor_is_refused_with_the_owner_named()
    {
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(TestGuests.PrintAndExit("x\r\n", 3)), "--place", "com1=monitor", "--dm", "virt-dm --devices com1,exit"]);
        int status = await run.WaitAsync();
        Assert.True(status == ExitStatus.DeviceModelFailed, $"status {status}\n{run.Describe()}");
        Assert.Contains("already claimed by 'com1' (monitor)", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }
}

/// <summary>COM1 placed in the monitor is saved and restored with the monitor's platform devices (docs/snapshots.md).</summary>
public class PlacementSnapshotTests
{
    [Fact]
    public async Task Com1_in_the_monitor_is_saved_with_the_platform_and_restored_there_without_a_seam()
    {
        string dir = TempDir.Create("virt-place-snap");
        string before = Path.Combine(dir, "before.txt"), after = Path.Combine(dir, "after.txt"), snap = Path.Combine(dir, "vm.snap");
        using (VirtRun run = await Snapshots.SnapshotRuns.StartCounterAsync(before, "--place", "com1=monitor"))
        {
            var (code, output, err) = await Snapshots.SnapshotRuns.SaveAsync(run, snap, stop: true);
            Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
            Assert.Equal(0, await run.WaitAsync());
        }
        int savedLines = Snapshots.SnapshotRuns.Lines(before);

        // No --place: the restored machine is built as it was saved, COM1 in the monitor.
        using (var restored = VirtRun.Start(["run", "--restore", snap, "--serial", $"file:{after}"]))
        {
            await Snapshots.SnapshotRuns.MoreLinesAsync(restored, after, 40);
            DeviceModels.VirtCli.Signal(restored.Pid, "INT");
            Assert.Equal(130, await restored.WaitAsync());
            string attached = restored.Stderr.Split('\n').First(l => l.Contains("attached:"));
            Assert.DoesNotContain("com1", attached);
            Assert.Contains("com1       (monitor)", restored.Stderr);
            Assert.Empty(restored.LeftoverVmDirectories());
        }
        int total = Snapshots.SnapshotRuns.AssertCounter(Snapshots.SnapshotRuns.Console(before) + Snapshots.SnapshotRuns.Console(after), $"saved after {savedLines} lines");
        Assert.True(total > savedLines + 40, $"{total} lines in all, {savedLines} before the save");
    }
}
