namespace Virt.Integration.Tests.Cli;

/// <summary>
/// The device models' command lines (System.CommandLine through Virt.CommandLine): -h and --help print the
/// help with its examples and status 0; a bad flag or value is one line on stderr naming the program, status 2.
/// </summary>
public class HelpTextTests
{
    [Theory]
    [InlineData("virt-dm", "--help")]
    [InlineData("virt-dm", "-h")]
    [InlineData("virt-harness", "--help")]
    [InlineData("virt-harness", "-h")]
    public async Task Help_prints_the_options_and_examples_with_status_0(string program, string flag)
    {
        BundledProgram run = await BundledProgram.RunAsync(program, [flag]);
        Assert.True(run.Status == 0, $"status {run.Status}\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains($"{program} [options]", run.Stdout);
        Assert.Contains("--socket <PATH>", run.Stdout);
        Assert.NotEmpty(HelpExamples.In(run.Stdout));
        Assert.Empty(run.Stderr);
    }

    [Theory]
    [InlineData("virt-dm", new[] { "--no-such-flag" }, "'--no-such-flag'")]
    [InlineData("virt-dm", new[] { "--devices", "com1,floppy" }, "unknown device 'floppy'")]
    [InlineData("virt-dm", new[] { "--serial", "tty" }, "--serial tty: expected stdio, file:PATH or none")]
    [InlineData("virt-dm", new[] { "--serial" }, "--serial")]
    [InlineData("virt-harness", new[] { "--exit", "0x10000" }, "'0x10000' is not a number up to 0xFFFF")]
    [InlineData("virt-harness", new[] { "--scratch", "lots" }, "'lots' is not a number")]
    [InlineData("virt-harness", new[] { "--debugcon", "none", "extra" }, "'extra'")]
    public async Task Bad_input_is_one_clear_line_and_status_2(string program, string[] args, string expected)
    {
        BundledProgram run = await BundledProgram.RunAsync(program, args);
        Assert.True(run.Status == 2, $"status {run.Status}\n{run.Stdout}\n{run.Stderr}");
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"{program}: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    [Theory]
    [InlineData("virt-dm")]
    [InlineData("virt-harness")]
    public async Task Without_a_control_socket_the_error_says_who_starts_the_model(string program)
    {
        BundledProgram run = await BundledProgram.RunAsync(program, ["--name", "x"]);
        Assert.Equal(2, run.Status);
        Assert.Contains("no control socket: give --socket or set VIRT_DM_SOCKET", run.Stderr);
    }
}
