using System.Diagnostics;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Debug;

/// <summary>The gdbtarget guest under `virt run --gdb tcp::0`, and a real gdb in batch mode.</summary>
public static partial class DebugRuns
{
    public static string Guest => Virt.Cpu.Tests.Guests.GuestBuild.Guest("gdbtarget");

    /// <summary>Starts virt with the stub on a port the system picks and returns the run and that port.</summary>
    public static async Task<(VirtRun Run, int Port)> StartAsync(bool waitForDebugger, string append = "")
    {
        var args = new List<string> { "run", "--kernel", Guest, "--dm", "virt-harness", "--gdb", "tcp::0" };
        if (waitForDebugger) args.Add("-S");
        if (append.Length > 0) { args.Add("--append"); args.Add(append); }
        var run = VirtRun.Start(args);
        await run.WaitUntilAsync(() => Listening().IsMatch(run.Stderr), "the GDB stub listening");
        return (run, int.Parse(Listening().Match(run.Stderr).Groups[1].Value));
    }

    [GeneratedRegex(@"GDB stub listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();

    /// <summary>Runs gdb -batch on the guest's ELF with these commands; returns everything it printed.</summary>
    public static async Task<string> GdbAsync(int port, params string[] commands)
    {
        var psi = new ProcessStartInfo("gdb") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in (string[])["-batch", "-nx", "-ex", "set pagination off", "-ex", $"target remote 127.0.0.1:{port}"]) psi.ArgumentList.Add(a);
        foreach (string c in commands) { psi.ArgumentList.Add("-ex"); psi.ArgumentList.Add(c); }
        psi.ArgumentList.Add(Guest);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Xunit.Sdk.XunitException($"cannot run gdb ({e.Message}): apt-get install gdb (.ci/run installs it)");
        }
        using (p)
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await p.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"gdb did not finish.\n{await stdout}\n{await stderr}");
            }
            return await stdout + await stderr;
        }
    }
}
