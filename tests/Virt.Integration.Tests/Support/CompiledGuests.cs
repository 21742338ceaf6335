using System.Diagnostics;

namespace Virt.Integration.Tests.Support;

/// <summary>
/// The freestanding C guests of guests/ (Multiboot ELFs with their symbols), built through
/// guests/build.sh, which caches them by source hash outside the tree. A missing compiler fails the
/// test with the packages to install.
/// </summary>
public static class CompiledGuests
{
    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Virt.sln")) && Directory.Exists(Path.Combine(d.FullName, "guests")))
                return d.FullName;
        throw new InvalidOperationException($"cannot find the repository (Virt.sln and guests/) above {AppContext.BaseDirectory}");
    }

    /// <summary>Path of guests/NAME.c built as a Multiboot ELF.</summary>
    public static string Build(string name)
    {
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepoRoot, "guests", "build.sh"));
        psi.ArgumentList.Add("guest");
        psi.ArgumentList.Add(name);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /bin/sh");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"building guest '{name}' failed (exit {p.ExitCode}); the guests need gcc gcc-multilib.\n{stderr.Result}");
        return stdout.Trim();
    }
}
