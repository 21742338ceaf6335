using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Cli;

/// <summary>
/// Every example in the help of virt-dm and virt-harness, read from the help output and run as written.
/// Each boots the built-in demo guest, which ends by writing 0 to the exit port: status 1, (0 &lt;&lt; 1) | 1.
/// </summary>
public class HelpExampleRunTests
{
    private const int DemoGuestStatus = 1;

    [Theory]
    [InlineData("virt-dm")]
    [InlineData("virt-harness")]
    public async Task Every_example_in_the_help_runs(string program)
    {
        BundledProgram help = await BundledProgram.RunAsync(program, ["--help"]);
        IReadOnlyList<string> examples = HelpExamples.In(help.Stdout);
        Assert.NotEmpty(examples);
        foreach (string example in examples)
        {
            string[] words = HelpExamples.Words(example);
            Assert.True(words is ["virt", "run", ..], $"an example this test cannot run: {example}");
            using var run = VirtRun.Start(words[1..]);
            int status = await run.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(status == DemoGuestStatus, $"{example}: status {status}\n{run.Describe()}");
            Assert.Contains("Hello from the virt demo guest", run.Stdout);
            Assert.DoesNotContain("   at ", run.Stderr);
            Assert.Empty(run.LeftoverVmDirectories());
        }
    }
}
