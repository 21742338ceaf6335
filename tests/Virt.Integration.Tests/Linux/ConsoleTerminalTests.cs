using System.Diagnostics;
using System.Text;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Linux;

/// <summary>
/// virt on a real terminal: `script` gives it a pseudo-terminal as stdin/stdout, the test types
/// into it. Raw mode means Ctrl-C is a key for the guest (virt keeps running), Ctrl-A X quits,
/// and afterwards the terminal is back in canonical mode with echo (stty, run in the same pty).
/// </summary>
public class ConsoleTerminalTests
{
    [Fact]
    public async Task Ctrl_A_X_quits_Ctrl_C_does_not_and_the_terminal_is_restored()
    {
        if (!File.Exists("/usr/bin/script")) throw new InvalidOperationException("this test needs util-linux's script(1) (apt-get install bsdutils)");
        string kernel = TempDir.WriteImage(TestGuests.TickForever());
        var (file, prefix) = VirtRun.Locate();
        string virt = string.Join(' ', new[] { file }.Concat(prefix).Select(Quote));
        string runtime = TempDir.Create("virt-rt");
        string command = $"VIRT_RUNTIME_DIR={Quote(runtime)} {virt} run -m 16M --kernel {Quote(kernel)}; echo virt-status=$?; stty -a";
        var psi = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-qfec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        var reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await p.StandardOutput.ReadAsync(buffer)) > 0) lock (output) output.Append(buffer, 0, n);
        });
        string Text() { lock (output) return output.ToString(); }
        try
        {
            await WaitFor(() => Text().Contains("tick"), "the guest's output", p, Text);
            p.StandardInput.Write("\x03");   // Ctrl-C: the guest's key in raw mode, not a SIGINT to virt
            p.StandardInput.Flush();
            await Task.Delay(1500);
            Assert.False(p.HasExited, Text());
            Assert.DoesNotContain("SIGINT", Text());
            p.StandardInput.Write("\x01x");  // Ctrl-A X
            p.StandardInput.Flush();
            await WaitFor(() => Text().Contains("speed"), "stty after virt", p, Text);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        await p.WaitForExitAsync();
        await reader;
        string text = Text();
        Assert.Contains("quit from the console (Ctrl-A X)", text);
        Assert.Contains("virt-status=130", text);
        string stty = text[text.IndexOf("virt-status=", StringComparison.Ordinal)..];
        Assert.Matches(@"(^|\s)icanon(\s|$)", stty);
        Assert.Matches(@"(^|\s)echo(\s|$)", stty);
        Assert.Matches(@"(^|\s)isig(\s|$)", stty);
        Assert.Empty(Directory.Exists(runtime) ? Directory.GetDirectories(runtime, "vm-*") : []);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private static async Task WaitFor(Func<bool> condition, string what, Process p, Func<string> text)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"{what} did not appear:\n{text()}");
            if (p.HasExited && !condition()) throw new InvalidOperationException($"script exited ({p.ExitCode}) before {what}:\n{text()}");
            await Task.Delay(20);
        }
    }
}
