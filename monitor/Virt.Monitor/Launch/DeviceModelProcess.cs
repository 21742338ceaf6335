using System.Diagnostics;
using Virt.Shared.Control;

namespace Virt.Monitor.Launch;

/// <summary>
/// Finds and starts the device model process. The secret goes in the child's environment (never
/// on its command line, which every user can read in /proc); stdin, stdout and stderr are
/// inherited so the guest's serial console is virt's console.
/// </summary>
public sealed class DeviceModelProcess : IDisposable
{
    private readonly Process _process;

    private DeviceModelProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>The device model's stdin, when started with relayStdin.</summary>
    public Stream? StandardInput => _process.StartInfo.RedirectStandardInput ? _process.StandardInput.BaseStream : null;
    // Set by Dispose: a retired model's process is let go while other threads may still ask about it.
    private volatile bool _disposed;

    public bool HasExited
    {
        get
        {
            if (_disposed) return true;
            try { return _process.HasExited; }
            catch (InvalidOperationException) { return true; } // disposed meanwhile: it was waited for first
        }
    }

    public string ExitDescription
    {
        get
        {
            if (!_process.HasExited) return "running";
            int code = _process.ExitCode;
            // .NET reports death by signal N as 128 + N.
            return code > 128 ? $"killed by signal {code - 128}" : $"exited with status {code}";
        }
    }

    /// <summary>
    /// Resolves --dm: a path (contains '/'), or a name looked up next to the virt executable,
    /// as an apphost or as NAME.dll run by the same dotnet host, else on $PATH.
    /// </summary>
    public static (string FileName, string[] Prefix) Locate(string nameOrPath)
    {
        if (nameOrPath.Contains('/'))
        {
            string full = Path.GetFullPath(nameOrPath);
            if (!File.Exists(full)) throw new FileNotFoundException($"device model {full} does not exist");
            return full.EndsWith(".dll", StringComparison.Ordinal) ? (DotnetHost(), [full]) : (full, []);
        }
        string baseDir = AppContext.BaseDirectory;
        string apphost = Path.Combine(baseDir, nameOrPath);
        if (File.Exists(apphost)) return (apphost, []);
        string dll = Path.Combine(baseDir, nameOrPath + ".dll");
        if (File.Exists(dll)) return (DotnetHost(), [dll]);
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, nameOrPath))) return (Path.Combine(dir, nameOrPath), []);
        throw new FileNotFoundException($"device model '{nameOrPath}' not found next to virt in {baseDir} or on PATH (give --dm PATH)");
    }

    private static string DotnetHost()
    {
        string? host = Environment.ProcessPath;
        if (host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet") return host;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        return root is not null && File.Exists(Path.Combine(root, "dotnet")) ? Path.Combine(root, "dotnet") : "dotnet";
    }

    /// <param name="relayStdin">stdin is a pipe from virt (<see cref="StandardInput"/>) instead of virt's own: virt's console relays the keyboard.</param>
    public static DeviceModelProcess Start(string nameOrPath, IEnumerable<string> args, string socketPath, byte[] secret, bool relayStdin = false)
    {
        var (file, prefix) = Locate(nameOrPath);
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardInput = relayStdin };
        foreach (string a in prefix) psi.ArgumentList.Add(a);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment[Protocol.SocketEnvironmentVariable] = socketPath;
        psi.Environment[Protocol.SecretEnvironmentVariable] = Convert.ToHexString(secret);
        var p = Process.Start(psi) ?? throw new IOException($"could not start {file}");
        return new DeviceModelProcess(p);
    }

    /// <summary>Waits for the process to leave; kills it if it does not within the timeout.</summary>
    public void WaitOrKill(TimeSpan timeout)
    {
        if (_disposed) return;
        try
        {
            if (_process.WaitForExit(timeout)) return;
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(2));
        }
        catch (InvalidOperationException) { } // exited and disposed meanwhile
    }

    /// <summary>SIGKILL, for a device model that hangs: it cannot be asked to leave.</summary>
    public void Kill()
    {
        if (_disposed) return;
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        _disposed = true;
        // Process.Dispose leaves a redirected stdin to the finalizer: close our end of the pipe now.
        if (_process.StartInfo.RedirectStandardInput)
            try { _process.StandardInput.Close(); } catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException) { }
        _process.Dispose();
    }
}
