using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>
/// `virt save` and `virt run --restore` on a guest printing a counter: the restored guest goes on from
/// the very instruction and console byte it was saved at, under the same device model or another one;
/// a model that cannot take the saved state is refused before the guest runs; a save that fails leaves
/// the guest running.
/// </summary>
public class SaveRestoreTests
{
    [Fact]
    public async Task Saved_mid_output_and_restored_the_counter_loses_and_duplicates_no_line()
    {
        string dir = TempDir.Create("virt-snap");
        string before = Path.Combine(dir, "before.txt"), after = Path.Combine(dir, "after.txt"), snap = Path.Combine(dir, "vm.snap");
        using (VirtRun run = await SnapshotRuns.StartCounterAsync(before))
        {
            var (code, output, err) = await SnapshotRuns.SaveAsync(run, snap, stop: true);
            Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
            Assert.Matches(@"saved .*vm\.snap: [\d.]+ MiB file, [\d.]+ MiB of it data \(the rest zero pages left as holes\) \(64 MiB RAM, 1 device model\(s\), \d+ device states\); save \d+ ms, guest paused \d+ ms; the VM is stopping", output);
            Assert.Equal(0, await run.WaitAsync());
            Assert.Contains("stopped after saving to", run.Stderr);
            Assert.Empty(run.LeftoverVmDirectories());
        }
        int savedLines = SnapshotRuns.Lines(before);
        Assert.False(File.Exists(snap + $".partial"), "no temporary file is left");

        using (var restored = VirtRun.Start(["run", "--restore", snap, "--serial", $"file:{after}"]))
        {
            await SnapshotRuns.MoreLinesAsync(restored, after, 40);
            VirtCli.Signal(restored.Pid, "INT");
            Assert.Equal(130, await restored.WaitAsync());
            Assert.Matches(@"restored .*vm\.snap: guest running \d+ ms after virt started \(\d+ ms of it checking and loading the snapshot, \d+ MiB of RAM copied\)", restored.Stderr);
            Assert.Empty(restored.LeftoverVmDirectories());
        }
        // The two consoles, one after the other, are the counter from 0 without a seam: not a line (nor a byte) lost or doubled.
        int total = SnapshotRuns.AssertCounter(SnapshotRuns.Console(before) + SnapshotRuns.Console(after), $"saved after {savedLines} lines");
        Assert.True(total > savedLines + 40, $"{total} lines in all, {savedLines} before the save");
    }

    [Fact]
    public async Task A_restore_hands_the_saved_state_to_another_device_model_and_refuses_one_that_cannot_take_it()
    {
        string dir = TempDir.Create("virt-snap");
        string before = Path.Combine(dir, "before.txt"), after = Path.Combine(dir, "after.txt"), refusedOut = Path.Combine(dir, "refused.txt");
        string snap = Path.Combine(dir, "vm.snap");
        using (VirtRun run = await SnapshotRuns.StartCounterAsync(before))
        {
            var (code, output, err) = await SnapshotRuns.SaveAsync(run, snap, stop: true);
            Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
            Assert.Equal(0, await run.WaitAsync());
        }

        // virt-harness has a debug console, an exit port and scratch MMIO: no com1, no rtc for the saved state.
        using (var refused = VirtRun.Start(["run", "--restore", snap, "--dm", "virt-harness", "--serial", $"file:{refusedOut}"]))
        {
            Assert.Equal(2, await refused.WaitAsync());
            Assert.Matches(@"restore refused: device model 'virt-harness' \(pid \d+\), offered for the saved 'virt-dm', has no device .*'com1'.* to take its saved state .*the guest was not started", refused.Stderr);
            Assert.Equal("", SnapshotRuns.Console(refusedOut));
            Assert.Empty(refused.LeftoverVmDirectories());
        }

        // Another program (the benchmark model: virt-dm's PC and a test device) takes virt-dm's devices: a swap across the restore.
        using (var swapped = VirtRun.Start(["run", "--restore", snap, "--dm", $"virt-dm-bench --io-test --serial file:{after}"]))
        {
            await SnapshotRuns.MoreLinesAsync(swapped, after, 40);
            VirtCli.Signal(swapped.Pid, "INT");
            Assert.Equal(130, await swapped.WaitAsync());
            Assert.Empty(swapped.LeftoverVmDirectories());
        }
        SnapshotRuns.AssertCounter(SnapshotRuns.Console(before) + SnapshotRuns.Console(after), "restored under virt-dm-bench");
    }

    [Fact]
    public async Task A_save_without_stop_lets_the_guest_go_on_and_a_save_that_fails_half_way_leaves_it_running()
    {
        string dir = TempDir.Create("virt-snap");
        string console = Path.Combine(dir, "console.txt"), snap = Path.Combine(dir, "vm.snap"), failed = Path.Combine(dir, "failed.snap");
        using VirtRun run = await SnapshotRuns.StartCounterAsync(console, "--restart-dm");
        var (code, output, err) = await SnapshotRuns.SaveAsync(run, snap);
        Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
        Assert.Contains("the VM goes on", output);
        Assert.True(new FileInfo(snap).Length > 64 << 20, "the file holds all of RAM (sparse)");
        await SnapshotRuns.MoreLinesAsync(run, console, 30);

        // The device model is stopped, the save asked for, then the model killed under it.
        int dm = int.Parse(System.Text.RegularExpressions.Regex.Match(run.Stderr, @"device model pid (\d+)").Groups[1].Value);
        VirtCli.Signal(dm, "STOP");
        Task<(int, string, string)> save = SnapshotRuns.SaveAsync(run, failed);
        await Task.Delay(500);
        VirtCli.Signal(dm, "KILL");
        var (failedCode, failedOut, failedErr) = await save;
        Assert.True(failedCode == 1, $"the save should fail: {failedCode} {failedOut} {failedErr}\n{run.Describe()}");
        Assert.Contains("nothing was saved", failedErr);
        Assert.False(File.Exists(failed), "no snapshot file from a failed save");
        Assert.Empty(Directory.GetFiles(dir, "*.partial-*"));

        // The guest goes on (the restarted model takes over) and its counter never went back.
        await SnapshotRuns.MoreLinesAsync(run, console, 30);
        VirtCli.Signal(run.Pid, "INT");
        Assert.Equal(130, await run.WaitAsync());
        Assert.Empty(run.LeftoverVmDirectories());
    }
}
