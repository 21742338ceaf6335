using Virt.Integration.Tests.Linux;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Guests;

namespace Virt.Integration.Tests.Cli;

/// <summary>
/// virt's command line (System.CommandLine through Virt.CommandLine): every command and subcommand answers
/// -h/--help with status 0, and every example in every help text runs as written: the ones that boot a guest
/// boot the built-in demo guest (or, for virt bench boot, the cached Linux guest), the ones that name a VM
/// run against a VM this test starts, its pid put in for the word VM.
/// </summary>
public class VirtHelpTests
{
    /// <summary>Every command, in the order their examples run: the ones that make files before the ones that read them, save (which ends the VM) last.</summary>
    private static readonly string[][] s_commands =
    [
        [], ["run"], ["plot"], ["bench"], ["bench", "wakeup"], ["bench", "io"], ["bench", "pv"], ["bench", "boot"], ["bench", "snapshot"],
        ["list"], ["top"], ["attach"], ["detach"], ["restore"], ["save"],
    ];

    [Fact]
    public async Task Every_command_answers_help_with_status_0_and_none_is_left_out()
    {
        foreach (string[] command in s_commands)
        {
            foreach (string flag in new[] { "--help", "-h" })
            {
                BundledProgram help = await BundledProgram.RunAsync("virt", [.. command, flag]);
                Assert.True(help.Status == 0, $"virt {string.Join(' ', command)} {flag}: status {help.Status}\n{help.Stderr}");
                Assert.Contains("Usage:", help.Stdout);
                Assert.Empty(help.Stderr);
            }
        }
        // The commands the help lists are the ones this test knows, so a new one cannot go without its examples being run.
        string[] listed = [.. Subcommands((await BundledProgram.RunAsync("virt", ["--help"])).Stdout),
            .. Subcommands((await BundledProgram.RunAsync("virt", ["bench", "--help"])).Stdout).Select(c => $"bench {c}")];
        Assert.Equal(s_commands.Where(c => c.Length > 0).Select(c => string.Join(' ', c)).Order(), listed.Order());
    }

    [Theory]
    [InlineData(new[] { "run", "--no-such-flag" }, "'--no-such-flag'")]
    [InlineData(new[] { "run", "--demo", "-m", "1T" }, "-m 1T")]
    [InlineData(new[] { "run", "--demo", "--wakeup", "soon" }, "--wakeup soon")]
    [InlineData(new[] { "run", "--demo", "--gdb" }, "--gdb")]
    [InlineData(new[] { "run" }, "nothing to run")]
    [InlineData(new[] { "run", "--demo", "-S" }, "-S waits for a debugger")]
    [InlineData(new[] { "top", "--sort", "loudest" }, "--sort loudest")]
    [InlineData(new[] { "plot", "x.json" }, "--output")]
    [InlineData(new[] { "attach", "123" }, "--dm")]
    [InlineData(new[] { "bench", "io", "--wakeup", "socket" }, "only virt bench wakeup has it")]
    [InlineData(new[] { "frobnicate" }, "'frobnicate'")]
    [InlineData(new string[0], "")]
    public async Task Bad_input_is_one_clear_line_and_status_2(string[] args, string expected)
    {
        BundledProgram run = await BundledProgram.RunAsync("virt", args);
        Assert.True(run.Status == 2, $"status {run.Status}\n{run.Stdout}\n{run.Stderr}");
        string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("virt: ", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public async Task Every_example_in_every_help_runs()
    {
        string work = TempDir.Create("virt-examples");
        string runtime = TempDir.Create("virt-rt");
        var examples = new List<string>();
        foreach (string[] command in s_commands)
        {
            BundledProgram help = await BundledProgram.RunAsync("virt", [.. command, "--help"]);
            examples.AddRange(HelpExamples.In(help.Stdout).Where(e => !examples.Contains(e)));
        }
        Assert.Contains(examples, e => e.StartsWith("virt save VM", StringComparison.Ordinal));

        using VirtRun vm = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(IdleGuest()), "-q"], runtimeDir: runtime);
        await vm.WaitUntilAsync(() => vm.Stdout.Contains("idle"), "the idle guest's first line");
        var ran = new List<string>();
        foreach (string example in examples)
        {
            string[] words = HelpExamples.Words(example);
            Assert.True(words is ["virt", ..], $"an example that is not a virt command: {example}");
            if (words is ["virt", "bench", "boot" or "snapshot", ..] && LinuxGuest.MissingReason is { } why)
            {
                Console.Error.WriteLine($"not run, the Linux guest is missing ({why}): {example}");
                continue;
            }
            string[] args = [.. words[1..].Select(w => w == "VM" ? vm.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture) : w)];
            BundledProgram run = await BundledProgram.RunAsync("virt", args, runtime, work);
            // The demo guest ends by writing 0 to the exit port: status 1; the others end with 0.
            // virt restore VM ...: the VM runs a guest (it was not started with --incoming), so the restore is refused: status 2.
            int expected = words is ["virt", "run", "--demo", ..] && !words.Contains("help") ? 1 : words is ["virt", "restore", ..] ? 2 : 0;
            Assert.True(run.Status == expected, $"{example}: status {run.Status}, expected {expected}\nstdout:\n{run.Stdout}\nstderr:\n{run.Stderr}");
            Assert.DoesNotContain("   at ", run.Stderr);
            ran.Add(example);
        }
        // virt save VM ... --and-stop ended the VM.
        Assert.Equal(0, await vm.WaitAsync());
        Assert.True(File.Exists(Path.Combine(work, "demo.svg")), string.Join('\n', ran));
    }

    /// <summary>Prints "idle", then halts with interrupts on forever: a VM that runs without using the host's CPUs.</summary>
    private static byte[] IdleGuest()
    {
        var g = new GuestAssembler();
        g.Print("idle\r\n");
        Iced.Intel.Assembler a = g.Asm;
        Iced.Intel.Label loop = a.CreateLabel();
        a.sti();
        a.Label(ref loop);
        a.hlt();
        a.jmp(loop);
        return g.Build();
    }

    /// <summary>The names under "Commands:" in a help text.</summary>
    private static IEnumerable<string> Subcommands(string help)
    {
        bool inCommands = false;
        foreach (string line in help.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line == "Commands:") inCommands = true;
            else if (inCommands && line.Length > 2 && line.StartsWith("  ", StringComparison.Ordinal) && line[2] != ' ') yield return line.Trim().Split(' ')[0];
            else if (inCommands && line.Trim().Length == 0) inCommands = false;
        }
    }
}
