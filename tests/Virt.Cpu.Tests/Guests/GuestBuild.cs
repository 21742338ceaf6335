using System.Diagnostics;

namespace Virt.Cpu.Tests.Guests;

/// <summary>
/// Compiles the C guests in guests/ through guests/build.sh (which caches by source hash outside
/// the tree) and runs their host twins. A missing compiler is a test failure with the package list
/// to install, never a silent skip.
/// </summary>
internal static class GuestBuild
{
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Virt.sln")) && Directory.Exists(Path.Combine(d.FullName, "guests")))
                return d.FullName;
        throw new InvalidOperationException($"cannot find the repository (Virt.sln and guests/) above {AppContext.BaseDirectory}");
    }

    /// <summary>Path of the compiled guest ELF.</summary>
    public static string Guest(string name) => Build("guest", name);

    /// <summary>Runs the host build of the same source and returns its standard output.</summary>
    public static string RunHost(string name)
    {
        var (code, stdout, stderr) = Exec(Build("host", name), "");
        if (code != 0) throw new Xunit.Sdk.XunitException($"host build of {name} exited with {code}: {stderr}");
        return stdout;
    }

    private static string Build(string kind, string name)
    {
        string script = Path.Combine(RepoRoot, "guests", "build.sh");
        (int code, string stdout, string stderr) r;
        try
        {
            r = Exec("/bin/sh", $"{script} {kind} {name}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Xunit.Sdk.XunitException($"cannot run /bin/sh to build guest {name}: {e.Message}");
        }
        if (r.code != 0)
            throw new Xunit.Sdk.XunitException(
                $"building {kind} '{name}' failed (exit {r.code}). The guests need gcc with 32-bit support: apt-get install gcc gcc-multilib.\n{r.stderr}");
        return r.stdout.Trim();
    }

    private static (int Code, string Stdout, string Stderr) Exec(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }
}
