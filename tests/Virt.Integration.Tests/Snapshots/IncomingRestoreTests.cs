using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>
/// `virt run --incoming` and `virt restore VM FILE` on the guest printing a counter: a VM started and waiting takes
/// the snapshot on request and goes on from the very console byte it was saved at; a snapshot it cannot take (cut
/// short, from an older virt, RAM corrupted after the checks a header allows, another RAM size, a device model without the saved devices) is refused with
/// status 2 and the VM waits on as it was, so the next good one runs; a VM running a guest refuses a restore.
/// </summary>
public class IncomingRestoreTests
{
    private static async Task<string> SavedCounterAsync(string dir, string console)
    {
        string snap = Path.Combine(dir, "vm.snap");
        using VirtRun run = await SnapshotRuns.StartCounterAsync(console);
        var (code, output, err) = await SnapshotRuns.SaveAsync(run, snap, stop: true);
        Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
        Assert.Equal(0, await run.WaitAsync());
        return snap;
    }

    private static async Task<VirtRun> StartWaitingAsync(string console, params string[] extra)
    {
        var run = VirtRun.Start(["run", "--incoming", "--serial", $"file:{console}", .. extra]);
        await run.WaitUntilAsync(() => run.Stderr.Contains("waiting for a snapshot: virt restore"), "the VM waiting for a snapshot");
        return run;
    }

    private static Task<(int Status, string Stdout, string Stderr)> RestoreAsync(VirtRun run, string file) =>
        VirtCli.RunAsync(run.RuntimeDir, "restore", SnapshotRuns.Vm(run), file);

    [Fact]
    public async Task A_snapshot_restored_into_a_waiting_virt_goes_on_without_a_line_lost_or_doubled_and_a_second_restore_is_refused()
    {
        string dir = TempDir.Create("virt-incoming");
        string before = Path.Combine(dir, "before.txt"), after = Path.Combine(dir, "after.txt");
        string snap = await SavedCounterAsync(dir, before);
        int savedLines = SnapshotRuns.Lines(before);

        using (VirtRun waiting = await StartWaitingAsync(after))
        {
            Assert.Equal("", SnapshotRuns.Console(after)); // no guest ran while it waited
            var (code, output, err) = await RestoreAsync(waiting, snap);
            Assert.True(code == 0, $"restore: {code} {output} {err}\n{waiting.Describe()}");
            Assert.Matches(@"^restored .*vm\.snap into vm-\d+-\w+: guest running \d+ ms after the request \(\d+ ms loading RAM, \d+ MiB copied, while the CPU, the platform and 1 device model\(s\) took their state in \d+ ms\)", output);
            await SnapshotRuns.MoreLinesAsync(waiting, after, 40);
            Assert.Matches(@"virt: restored .*vm\.snap into vm-\d+-\w+: guest running \d+ ms after the request", waiting.Stderr);

            // It runs a guest now: another restore is refused, and the guest goes on.
            var (again, againOut, againErr) = await RestoreAsync(waiting, snap);
            Assert.True(again == 2, $"a second restore: {again} {againOut} {againErr}");
            Assert.Matches(@"^virt: restore refused: vm-\d+-\w+ \(restored from .*vm\.snap\) is already running a guest; .*nothing was restored", againErr);
            await SnapshotRuns.MoreLinesAsync(waiting, after, 20);

            VirtCli.Signal(waiting.Pid, "INT");
            Assert.Equal(130, await waiting.WaitAsync());
            Assert.DoesNotContain("   at ", waiting.Stderr);
            Assert.Empty(waiting.LeftoverVmDirectories());
        }
        int total = SnapshotRuns.AssertCounter(SnapshotRuns.Console(before) + SnapshotRuns.Console(after), $"saved after {savedLines} lines");
        Assert.True(total > savedLines + 60, $"{total} lines in all, {savedLines} before the save");
    }

    [Fact]
    public async Task Bad_snapshots_and_a_model_without_the_saved_devices_are_refused_with_status_2_and_the_waiting_vm_then_takes_a_good_one()
    {
        string dir = TempDir.Create("virt-incoming");
        string before = Path.Combine(dir, "before.txt"), after = Path.Combine(dir, "after.txt"), harness = Path.Combine(dir, "harness.txt");
        string snap = await SavedCounterAsync(dir, before);

        // Cut short: the header's checks refuse it before anything is touched.
        string truncated = Path.Combine(dir, "truncated.snap");
        File.Copy(snap, truncated);
        using (var f = new FileStream(truncated, FileMode.Open)) f.SetLength(f.Length - 4096);
        // One byte of a RAM page changed: the header and the manifest are whole, RAM's checksum (taken as it is loaded) is not.
        string corrupted = Path.Combine(dir, "corrupted.snap");
        File.Copy(snap, corrupted);
        CorruptRam(corrupted);
        // Written by an older virt: format version 1.
        string older = Path.Combine(dir, "older.snap");
        File.Copy(snap, older);
        using (var f = new FileStream(older, FileMode.Open)) { f.Position = 8; f.Write([1, 0, 0, 0]); }

        using (VirtRun waiting = await StartWaitingAsync(after))
        {
            var (code, output, err) = await RestoreAsync(waiting, truncated);
            Assert.True(code == 2, $"truncated: {code} {output} {err}");
            Assert.Matches(@"^virt: snapshot .*truncated\.snap: truncated: \d+ bytes, the header says \d+; nothing was restored; vm-\d+-\w+ goes on waiting for a snapshot", err);

            (code, output, err) = await RestoreAsync(waiting, older);
            Assert.True(code == 2, $"older: {code} {output} {err}");
            Assert.Contains("format version 1 (an older virt's); this virt reads format version 2; nothing was restored", err);

            (code, output, err) = await RestoreAsync(waiting, corrupted);
            Assert.True(code == 2, $"corrupted: {code} {output} {err}");
            Assert.Contains("corrupted: guest RAM's checksum does not match; nothing was restored", err);
            Assert.Equal("", SnapshotRuns.Console(after)); // the guest never ran

            (code, output, err) = await RestoreAsync(waiting, snap);
            Assert.True(code == 0, $"the good one: {code} {output} {err}\n{waiting.Describe()}");
            await SnapshotRuns.MoreLinesAsync(waiting, after, 40);
            VirtCli.Signal(waiting.Pid, "INT");
            Assert.Equal(130, await waiting.WaitAsync());
            Assert.DoesNotContain("   at ", waiting.Stderr);
            Assert.Empty(waiting.LeftoverVmDirectories());
        }
        // The refused restores left nothing behind: the good one goes on from the saved byte.
        SnapshotRuns.AssertCounter(SnapshotRuns.Console(before) + SnapshotRuns.Console(after), "restored after two refusals");

        // virt-harness has a debug console, an exit port and scratch MMIO: no com1, no rtc for the saved state.
        using (VirtRun other = await StartWaitingAsync(harness, "--dm", "virt-harness"))
        {
            var (code, output, err) = await RestoreAsync(other, snap);
            Assert.True(code == 2, $"virt-harness: {code} {output} {err}\n{other.Describe()}");
            Assert.Matches(@"^virt: restore refused: device model 'virt-harness' \(pid \d+\), waiting for the saved 'virt-dm', refused its state: no device '\w+' here for its saved state .*; nothing was restored; vm-\d+-\w+ goes on waiting", err);
            VirtCli.Signal(other.Pid, "INT");
            Assert.Equal(130, await other.WaitAsync());
            Assert.Empty(other.LeftoverVmDirectories());
        }

        // -m is the RAM the VM waits with: a snapshot of another size is refused before anything is loaded.
        using (VirtRun small = await StartWaitingAsync(harness, "-m", "32M", "--dm", "none"))
        {
            var (code, output, err) = await RestoreAsync(small, snap);
            Assert.True(code == 2, $"-m 32M: {code} {output} {err}\n{small.Describe()}");
            Assert.Contains("wrong RAM size: it holds 64 MiB of guest RAM, -m asks for 32 MiB (this VM waits with -m 32M: restore it into a virt run --incoming -m 64M)", err);
            VirtCli.Signal(small.Pid, "INT");
            Assert.Equal(130, await small.WaitAsync());
            Assert.Empty(small.LeftoverVmDirectories());
        }
    }

    [Theory]
    [InlineData(new[] { "--incoming", "--demo" }, "--incoming waits for a saved machine: it takes no --kernel, --bios, --demo, --initrd or --append")]
    [InlineData(new[] { "--incoming", "--restore", "x.snap" }, "--incoming waits for a snapshot (virt restore VM FILE); --restore loads one now")]
    [InlineData(new[] { "--incoming", "--place", "com1=firmware" }, "not --place com1=firmware")]
    public async Task Incoming_with_an_image_or_a_snapshot_to_load_now_is_bad_usage(string[] args, string expected)
    {
        using var run = VirtRun.Start(["run", .. args]);
        Assert.Equal(2, await run.WaitAsync());
        Assert.Contains(expected, run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    /// <summary>Changes one byte of the first non-zero RAM page (the file stays the same length; the page stays non-zero).</summary>
    private static void CorruptRam(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var header = new byte[64];
        f.ReadExactly(header);
        long ramOffset = BitConverter.ToInt64(header, 32);
        var page = new byte[4096];
        for (long at = ramOffset; at < f.Length; at += page.Length)
        {
            f.Position = at;
            f.ReadExactly(page);
            int i = Array.FindIndex(page, b => b != 0);
            if (i < 0) continue;
            f.Position = at + i;
            f.WriteByte(page[i] == 1 ? (byte)2 : (byte)1);
            return;
        }
        Assert.Fail("no non-zero RAM page in the snapshot");
    }
}
