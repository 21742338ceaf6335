using Virt.Integration.Tests.Linux;
using Virt.Integration.Tests.Support;
using Xunit.Abstractions;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>Linux saved while its shell waits for a line on the console, restored in a new virt, and given the line there.</summary>
public class LinuxSnapshotTests(ITestOutputHelper output)
{
    /// <summary>The initramfs's commands: a marker, then a line read from the console and run.</summary>
    private const string Commands = """
        echo CMD-PROMPT
        read -r line
        echo CMD-GOT
        eval "$line"
        """;

    [LinuxGuestFact]
    public async Task Linux_saved_at_its_prompt_runs_a_command_typed_after_the_restore()
    {
        var (kernel, initrd, why) = LinuxGuest.WithCommands(Commands);
        Assert.True(why is null, why);
        string dir = TempDir.Create("virt-snap");
        string snap = Path.Combine(dir, "linux.snap");
        using (var run = VirtRun.Start(["run", "-m", "256M", "--kernel", kernel!, "--initrd", initrd!, "--append", LinuxGuest.CommandLine]))
        {
            await run.WaitUntilAsync(() => run.Stdout.Contains("CMD-PROMPT\n"), "the prompt", TimeSpan.FromMinutes(5));
            await Task.Delay(500); // into the read: the shell sleeps in the kernel, waiting for the console
            var (code, saved, err) = await SnapshotRuns.SaveAsync(run, snap, stop: true);
            Assert.True(code == 0, $"save: {code} {saved} {err}\n{run.Describe()}");
            output.WriteLine(saved);
            Assert.Equal(0, await run.WaitAsync());
            Assert.DoesNotContain("CMD-GOT", run.Stdout);
        }

        using var restored = VirtRun.Start(["run", "--restore", snap], keepInput: true);
        await restored.WaitUntilAsync(() => restored.Stderr.Contains("restored "), "the restore", TimeSpan.FromMinutes(2));
        // The shell was saved waiting for a line; the line is typed only now, to the restored guest.
        restored.Type("echo CMD-$((6*7))-AFTER; cat /proc/uptime\n");
        int status = await restored.WaitAsync(TimeSpan.FromMinutes(3));
        output.WriteLine(restored.Stderr.Split('\n').FirstOrDefault(l => l.Contains("restored ")) ?? "");
        Assert.True(status == 0, $"status {status}\n{restored.Describe()}");
        Assert.Contains("CMD-GOT", restored.Stdout);
        Assert.Contains("CMD-42-AFTER", restored.Stdout); // the shell's arithmetic: the typed line ran, not its echo
        Assert.Contains("VIRT-DONE", restored.Stdout);
        // Time went on from where it was: no lockup reports from a clock that jumped.
        Assert.DoesNotContain("soft lockup", restored.Stdout);
        Assert.DoesNotContain("Long readout interval", restored.Stdout);
        Assert.Empty(restored.LeftoverVmDirectories());
    }
}
