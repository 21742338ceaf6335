using System.Text.RegularExpressions;
using Virt.CommandLine;
using Virt.DeviceModel.Cli;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Cli;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>
/// Every example the help texts of virt run and virt-dm show, run as written against a guest that
/// uses COM1, the RTC/CMOS, the debug console and the exit port: each model serves exactly the
/// devices its --devices names, and the others stay unclaimed.
/// </summary>
public class HelpExampleTests
{
    /// <summary>
    /// Prints "rtc D=XX mem=YYYY" on COM1 (CMOS register D, 0x80 when the RTC is there, all ones when
    /// nobody claims it; 0x35:0x34, the RAM above 16 MiB in 64 KiB blocks), "D" on the debug console,
    /// then writes 3 to the exit port; where nobody claims that port, it halts with interrupts off (status 0).
    /// </summary>
    private static byte[] DeviceProbe()
    {
        var g = new GuestAssembler();
        Iced.Intel.Assembler a = g.Asm;
        g.Print("rtc D=").ReadCmos(0x0D).PrintAlHex();
        g.Print(" mem=").ReadCmos(0x35).PrintAlHex().ReadCmos(0x34).PrintAlHex().Print("\r\n");
        a.mov(al, (byte)'D');
        a.@out((byte)0xE9, al);
        a.mov(al, (byte)'\n');
        a.@out((byte)0xE9, al);
        g.Exit(3);
        return g.Build();
    }

    [Fact]
    public void The_help_texts_show_the_examples_this_test_runs()
    {
        string runHelp = string.Join("\n", RunCommand.Create().Options.Select(o => o.Description));
        Assert.Contains("--dm \"virt-dm --devices com1,rtc\"", runHelp);
        Assert.Contains("e.g. 64M, 1G", runHelp);
        Assert.Contains("e.g. --dm-arg --devices --dm-arg com1,rtc,exit", runHelp);
        Assert.Contains(CommandExamples.Of(DeviceModelCommand.Create(_ => Task.FromResult(0))),
            e => e.Contains("--dm \"virt-dm --devices com1,rtc\" --dm \"virt-dm --devices debugcon,exit\"", StringComparison.Ordinal));
    }

    [Theory]
    // virt run --help: --dm "virt-dm --devices com1,rtc" (nothing claims the debug console or the exit port).
    [InlineData(new[] { "--dm", "virt-dm --devices com1,rtc" }, 0, "rtc D=80 mem=0300", false)]
    // virt-dm --help: two models split the PC.
    [InlineData(new[] { "--dm", "virt-dm --devices com1,rtc", "--dm", "virt-dm --devices debugcon,exit" }, 7, "rtc D=80 mem=0300", true)]
    // virt run --help: -m 1G; --dm-arg --devices --dm-arg com1,rtc,exit (virt-dm without the debug console).
    [InlineData(new[] { "-m", "1G" }, 7, "rtc D=80 mem=3F00", true)]
    [InlineData(new[] { "-m", "64M", "--dm-arg", "--devices", "--dm-arg", "com1,rtc,exit" }, 7, "rtc D=80 mem=0300", false)]
    // Without the RTC, CMOS reads float high.
    [InlineData(new[] { "--dm", "virt-dm --devices com1,exit" }, 7, "rtc D=FF mem=FFFF", false)]
    public async Task A_help_example_runs_and_each_model_serves_only_its_devices(string[] options, int expectedStatus, string expectedLine, bool debugConsole)
    {
        string kernel = TempDir.WriteImage(DeviceProbe());
        using var run = VirtRun.Start(["run", "--kernel", kernel, .. options]);
        int status = await run.WaitAsync();
        Assert.True(status == expectedStatus, $"status {status}, expected {expectedStatus}\n{run.Describe()}");
        // Two models write to the same stdout, each flushing its own lines: the debug console's "D\n"
        // may land inside COM1's line, so it is counted and taken out before COM1's line is checked.
        int debugLines = Regex.Count(run.Stdout, "D\n");
        Assert.True(debugLines == (debugConsole ? 1 : 0), $"{debugLines} debug console lines\n{run.Describe()}");
        Assert.Contains(expectedLine, debugConsole ? new Regex("D\n").Replace(run.Stdout, "", 1) : run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task An_unknown_device_name_is_a_clear_error()
    {
        string kernel = TempDir.WriteImage(DeviceProbe());
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "virt-dm --devices com1,floppy"]);
        int status = await run.WaitAsync();
        Assert.True(status == ExitStatus.DeviceModelFailed, $"status {status}\n{run.Describe()}");
        Assert.Contains("unknown device 'floppy'", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
