using System.Text.RegularExpressions;
using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Linux;

/// <summary>
/// Issue 13 class 5: Linux's serial console after its device model is killed and replaced. The
/// replacement starts from the dead model's crash snapshot (docs/abi.md, "Crash state") and the
/// UART re-raises the THR-empty interrupt the 8250 driver waits for; with exactly-once replay
/// every line arrives once.
/// </summary>
public class LinuxRecoveryTests
{
    private const int Lines = 5000;

    [LinuxGuestFact]
    public async Task A_linux_guest_whose_device_model_is_killed_and_replaced_finishes_its_output()
    {
        var (kernel, initrd, why) = LinuxGuest.WithCommands($"echo CMD-SEQ\nseq 1 {Lines}\necho CMD-SEQ-END");
        Assert.True(why is null, why);
        using var run = VirtRun.Start(["run", "--kernel", kernel!, "--initrd", initrd!, "--append", LinuxGuest.CommandLine]);
        // Kill it while userspace output flows through the interrupt-driven 8250 driver.
        await run.WaitUntilAsync(() => Regex.IsMatch(run.Stdout, @"(?m)^1000\r?$"), "the guest's output", TimeSpan.FromMinutes(5));
        int dm = int.Parse(Regex.Match(run.Stderr, @"device model pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        VirtCli.Signal(dm, "KILL");
        await run.WaitUntilAsync(() => run.Stderr.Contains("the guest is paused until a device model attaches"), "the pause");
        var (code, output, err) = await VirtCli.RunAsync(run.RuntimeDir, "attach", run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dm", "virt-dm");
        Assert.True(code == 0, $"attach: {code} {output} {err}\n{run.Describe()}");
        Assert.Contains("kept the crash snapshot of 'virt-dm'", run.Stderr);

        int status = await run.WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(status == 0, $"status {status}\n{run.Describe()}");
        // Kernel messages ("[    4.29] random: crng init done") share the console and may land inside a line of
        // the guest's output: cut them out (each ends with its own newline) before counting.
        string[] lines = Regex.Replace(run.Stdout.Replace("\r", ""), @"\[\s*\d+\.\d+\][^\n]*\n", "").Split('\n');
        Assert.Contains("CMD-SEQ-END", lines);
        var counts = lines.Where(l => l.Length > 0 && l.All(char.IsAsciiDigit)).GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        var wrong = Enumerable.Range(1, Lines).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Where(n => counts.GetValueOrDefault(n) != 1).Select(n => $"{n} x{counts.GetValueOrDefault(n)}").ToList();
        if (wrong.Count > 0)
        {
            int at = Array.FindIndex(lines, l => l == wrong[0].Split(' ')[0]);
            string around = string.Join("|", lines.Skip(Math.Max(0, (at < 0 ? Array.IndexOf(lines, (int.Parse(wrong[0].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)) : at) - 3)).Take(8));
            Assert.Fail($"{wrong.Count} lines not exactly once: {string.Join(", ", wrong.Take(20))}; around the first: {around}\n{run.Stderr}");
        }
        Assert.Empty(run.LeftoverVmDirectories());
    }
}
