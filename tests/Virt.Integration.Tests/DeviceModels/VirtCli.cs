using System.Diagnostics;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>Runs the real `virt list / attach / detach` against a running VM's runtime directory, and sends signals.</summary>
public static class VirtCli
{
    public static async Task<(int Status, string Stdout, string Stderr)> RunAsync(string runtimeDir, params string[] args)
    {
        var (file, prefix) = VirtRun.Locate();
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in prefix) psi.ArgumentList.Add(a);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["VIRT_RUNTIME_DIR"] = runtimeDir;
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>kill -SIG pid (INT, STOP, KILL).</summary>
    public static void Signal(int pid, string signal)
    {
        using var p = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        p.WaitForExit();
    }

    /// <summary>The complete lines of the counter guest's output, parsed (a line that is not 8 hex digits is null).</summary>
    public static List<uint?> CounterLines(string stdout)
    {
        string[] lines = stdout.Replace("\r", "").Split('\n');
        // The last element is empty or unfinished; the one before may be the guest's unfinished line that
        // the test's line reader completed at end of output: not counted when it is short.
        string[] complete = lines[..^1];
        if (complete.Length > 0 && complete[^1].Length < 8) complete = complete[..^1];
        return complete.Select(l => l.Length == 8 && uint.TryParse(l, System.Globalization.NumberStyles.HexNumber, null, out uint v) ? v : (uint?)null).ToList();
    }

    public static int CountLines(string stdout) => stdout.Count(c => c == '\n');

    /// <summary>The repository's tests/python directory (walking up from the test binaries).</summary>
    public static string PythonDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "tests", "python", "echo_dm.py"))) return Path.Combine(d.FullName, "tests", "python");
        throw new FileNotFoundException("tests/python/echo_dm.py not found above " + AppContext.BaseDirectory);
    }
}
