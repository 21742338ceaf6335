using System.Diagnostics;

namespace Virt.Integration.Tests.Cli;

/// <summary>One run of a program built next to the tests (virt, virt-dm, virt-harness) to its end, with its output.</summary>
public sealed record BundledProgram(int Status, string Stdout, string Stderr)
{
    /// <param name="runtimeDir">VIRT_RUNTIME_DIR, where the VMs' directories are (a new one if null).</param>
    /// <param name="workingDir">The working directory (the test's if null), where relative file names land.</param>
    public static async Task<BundledProgram> RunAsync(string program, IReadOnlyList<string> args, string? runtimeDir = null, string? workingDir = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        string dir = AppContext.BaseDirectory;
        string apphost = Path.Combine(dir, program);
        var psi = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(dir, program + ".dll") } };
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["VIRT_RUNTIME_DIR"] = runtimeDir ?? Support.TempDir.Create("virt-rt");
        if (workingDir is not null) psi.WorkingDirectory = workingDir;
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(300));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not exit in time");
        }
        return new BundledProgram(p.ExitCode, await stdout, await stderr);
    }
}
