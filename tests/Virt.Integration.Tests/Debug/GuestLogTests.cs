using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Debug;

/// <summary>-d and -D: QEMU's guest log items, on a guest that takes #UD and #GP (an unknown MSR).</summary>
public class GuestLogTests
{
    private static VirtRun Run(params string[] extra) =>
        VirtRun.Start(["run", "--kernel", DebugRuns.Guest, "--dm", "virt-harness", "--append", "fault=1", "-q", .. extra]);

    [Fact]
    public async Task Dash_d_logs_the_exceptions_the_guest_takes_its_unknown_msr_its_reset_state_and_its_exits()
    {
        using var run = Run("-d", "int,guest_errors,cpu_reset,exits");
        Assert.Equal(7, await run.WaitAsync());
        string log = run.Stderr;
        Assert.Matches(@"int: v=06 #UD exception cpl=0 IP=0008:001[0-9a-f]{5} ", log);
        Assert.Matches(@"int: v=0d #GP exception e=0000 cpl=0 IP=0008:001[0-9a-f]{5} ", log);
        Assert.Contains("guest_errors: rdmsr of unknown MSR 0xc0de0001", log);
        Assert.Contains("cpu_reset: vcpu0 starts: CS:EIP=0008:00100c04", log);
        Assert.Contains("exits: write port 0xf4 size 1 value 0x3 -> 'debug-exit'", log);
        Assert.Contains("gdbtarget: faults=2", run.Stdout);            // the guest's own view: both handled
    }

    [Fact]
    public async Task Without_dash_d_nothing_is_logged_and_dash_D_sends_the_log_to_a_file()
    {
        using (var quiet = Run())
        {
            Assert.Equal(7, await quiet.WaitAsync());
            Assert.DoesNotContain("int:", quiet.Stderr);
            Assert.DoesNotContain("guest_errors:", quiet.Stderr);
            Assert.Contains("gdbtarget: faults=2", quiet.Stdout);
        }
        string dir = TempDir.Create("virt-log");
        try
        {
            string file = Path.Combine(dir, "guest.log");
            using var logged = Run("-d", "int", "-D", file);
            Assert.Equal(7, await logged.WaitAsync());
            string[] lines = File.ReadAllLines(file);
            Assert.Equal(2, lines.Count(l => l.StartsWith("int: ", StringComparison.Ordinal))); // #UD and #GP, nothing else (interrupts are off)
            Assert.DoesNotContain(lines, l => l.StartsWith("guest_errors:", StringComparison.Ordinal)); // only the items asked for
            Assert.DoesNotContain("int:", logged.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Dash_d_help_lists_the_items_and_bad_uses_are_usage_errors()
    {
        using (var help = VirtRun.Start(["run", "-d", "help"]))
        {
            Assert.Equal(0, await help.WaitAsync());
            foreach (string item in (string[])["int", "cpu_reset", "guest_errors", "exits"]) Assert.Contains($"  {item} ", help.Stdout);
        }
        using (var bad = VirtRun.Start(["run", "--demo", "-d", "int,bogus"]))
        {
            Assert.Equal(2, await bad.WaitAsync());
            Assert.Contains("unknown item 'bogus'", bad.Stderr);
        }
        using (var noItems = VirtRun.Start(["run", "--demo", "-D", "/tmp/x.log"]))
        {
            Assert.Equal(2, await noItems.WaitAsync());
            Assert.Contains("-D names the log file of -d", noItems.Stderr);
        }
        using (var waitAlone = VirtRun.Start(["run", "--demo", "-S"]))
        {
            Assert.Equal(2, await waitAlone.WaitAsync());
            Assert.Contains("-S waits for a debugger", waitAlone.Stderr);
        }
    }
}
