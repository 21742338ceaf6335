using System.Diagnostics;

namespace Virt.Bench;

/// <summary>Compiles guests/bench.c through guests/build.sh (cached by source hash, outside the tree).</summary>
public static class GuestImage
{
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Virt.sln")) && File.Exists(Path.Combine(d.FullName, "guests", "build.sh")))
                    return d.FullName;
        throw new InvalidOperationException("run from inside the repository: cannot find Virt.sln and guests/build.sh");
    }

    public static string Build(string name)
    {
        var psi = new ProcessStartInfo("/bin/sh", $"{Path.Combine(RepoRoot, "guests", "build.sh")} guest {name}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string path = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"guests/build.sh guest {name} failed (needs gcc, gcc-multilib):\n{err.Result}");
        return path;
    }
}
