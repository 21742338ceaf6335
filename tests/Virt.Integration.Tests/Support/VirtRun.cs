using System.Diagnostics;
using System.Text;

namespace Virt.Integration.Tests.Support;

/// <summary>
/// Starts the real `virt` executable (built next to the tests by the project reference) with a
/// private runtime directory, so a test can check that nothing is left behind.
/// </summary>
public sealed class VirtRun : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();

    public string RuntimeDir { get; }

    private VirtRun(Process p, string runtimeDir)
    {
        _process = p;
        RuntimeDir = runtimeDir;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public int Pid => _process.Id;

    /// <summary>virt's entry point: the apphost if the build made one, else virt.dll through dotnet.</summary>
    public static (string File, string[] Prefix) Locate()
    {
        string dir = AppContext.BaseDirectory;
        string apphost = Path.Combine(dir, "virt");
        if (File.Exists(apphost)) return (apphost, []);
        string dll = Path.Combine(dir, "virt.dll");
        if (File.Exists(dll)) return (Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet", [dll]);
        throw new FileNotFoundException($"virt is not built next to the tests in {dir}");
    }

    /// <param name="keepInput">Leave virt's stdin open for <see cref="Type"/> (the guest's console keyboard); closed otherwise.</param>
    public static VirtRun Start(IEnumerable<string> args, IDictionary<string, string>? env = null, string? runtimeDir = null, bool keepInput = false)
    {
        runtimeDir ??= TempDir.Create("virt-rt");
        var (file, prefix) = Locate();
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string a in prefix) psi.ArgumentList.Add(a);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["VIRT_RUNTIME_DIR"] = runtimeDir;
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        var p = Process.Start(psi)!;
        if (!keepInput) p.StandardInput.Close();
        return new VirtRun(p, runtimeDir);
    }

    /// <summary>Types <paramref name="text"/> on virt's stdin (started with keepInput).</summary>
    public void Type(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for virt to exit and returns its status; fails the test with the output if it takes too long.</summary>
    public async Task<int> WaitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"virt did not exit in time.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        _process.WaitForExit(); // drain the output readers
        return _process.ExitCode;
    }

    /// <summary>Polls until <paramref name="condition"/> holds or fails with the output so far.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > (timeout ?? TimeSpan.FromSeconds(60)))
                throw new TimeoutException($"{what} did not happen.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            if (_process.HasExited && !condition())
                throw new InvalidOperationException($"virt exited ({_process.ExitCode}) before {what}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            await Task.Delay(20);
        }
    }

    /// <summary>VM directories left in this run's runtime directory.</summary>
    public string[] LeftoverVmDirectories() =>
        Directory.Exists(RuntimeDir) ? Directory.GetDirectories(RuntimeDir, "vm-*") : [];

    public string Describe() => $"stdout:\n{Stdout}\nstderr:\n{Stderr}";

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
        try { Directory.Delete(RuntimeDir, recursive: true); } catch (IOException) { }
    }
}
