using System.Diagnostics;
using System.Text;

namespace Virt.Monitor.Bench;

/// <summary>
/// A guest's process (virt or QEMU) for a benchmark: its console (stdout, and stdin to type into)
/// collected as it comes, the wall time since it was started, and waits for what it prints.
/// </summary>
public sealed class ConsoleProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private ConsoleProcess(Process process)
    {
        _process = process;
        Wall = Stopwatch.StartNew();
    }

    /// <summary>Since the process was started.</summary>
    public Stopwatch Wall { get; }

    public int Pid => _process.Id;

    public static ConsoleProcess Start(string program, IEnumerable<string> args) => Start(new ProcessStartInfo(program, args));

    /// <summary>This virt (<see cref="ThisVirt"/>) with <paramref name="args"/>.</summary>
    public static ConsoleProcess StartVirt(IEnumerable<string> args) => Start(ThisVirt.StartInfo(args));

    private static ConsoleProcess Start(ProcessStartInfo psi)
    {
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var p = new ConsoleProcess(Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}"));
        // Read as it comes, not by lines: a shell's prompt ends with no newline.
        _ = Task.Run(() => p.Collect(p._process.StandardOutput, p._stdout));
        _ = Task.Run(() => p.Collect(p._process.StandardError, p._stderr));
        return p;
    }

    private async Task Collect(StreamReader from, StringBuilder into)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await from.ReadAsync(buffer)) > 0)
            lock (into) into.Append(buffer, 0, n);
    }

    public string Stdout
    {
        get { lock (_stdout) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public void Type(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits until <paramref name="done"/> holds; returns the wall time then. Throws with the console on a timeout or an early exit.</summary>
    public async Task<TimeSpan> WaitForAsync(Func<bool> done, string what, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!done())
        {
            if (_process.HasExited && !done()) throw new InvalidOperationException($"it ended (status {_process.ExitCode}) before {what}; stderr:\n{Stderr}\nconsole:\n{Tail(Stdout)}");
            if (deadline.Elapsed > timeout) throw new InvalidOperationException($"no {what} within {timeout.TotalSeconds} s; stderr:\n{Stderr}\nconsole:\n{Tail(Stdout)}");
            await Task.Delay(1);
        }
        return Wall.Elapsed;
    }

    public Task<TimeSpan> WaitForOutputAsync(string text, TimeSpan timeout) => WaitForAsync(() => Stdout.Contains(text, StringComparison.Ordinal), $"\"{text}\"", timeout);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); throw new InvalidOperationException($"it did not end within {timeout.TotalSeconds} s"); }
        return _process.ExitCode;
    }

    private static string Tail(string s) => s.Length > 2000 ? s[^2000..] : s;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    private bool _disposed;
}
