using System.Diagnostics;

namespace Virt.Integration.Tests.Linux;

/// <summary>
/// The Debian i386 guest for the end-to-end boots, made by the project's scripts/fetch-guest.sh
/// (apt-get download, cached in ~/.cache/virt-guests or $VIRT_GUEST_CACHE): the kernel and an
/// initramfs whose /init prints the marker, runs <see cref="Commands"/> and powers off. Fetched
/// once per test run; <see cref="MissingReason"/> says why not when it cannot be.
/// </summary>
public static class LinuxGuest
{
    /// <summary>Each command's output follows a CMD- line, so the test can cut the console apart.</summary>
    public const string Commands = """
        echo CMD-UNAME
        uname -a
        echo CMD-CPUINFO
        cat /proc/cpuinfo
        echo CMD-LS
        ls /
        echo "CMD-CALC $((6 * 7)) $(seq 1 100 | awk '{ s += $1 } END { print s }')"
        """;

    public const string CommandLine = "console=ttyS0 nokaslr panic=-1 cryptomgr.notests";

    private static readonly Lazy<(string? Kernel, string? Initrd, string? Why)> s_fetched = new(() => Fetch(Commands));

    public static string Kernel => s_fetched.Value.Kernel!;
    public static string Initrd => s_fetched.Value.Initrd!;
    public static string? MissingReason => s_fetched.Value.Why;

    /// <summary>The kernel and an initramfs whose /init runs <paramref name="commands"/> instead (cached by their hash), or why not.</summary>
    public static (string? Kernel, string? Initrd, string? Why) WithCommands(string commands) =>
        MissingReason is { } why ? (null, null, why) : Fetch(commands);

    private static (string?, string?, string?) Fetch(string script)
    {
        string? root = RepositoryRoot();
        if (root is null) return (null, null, $"the repository (Virt.sln) is not above {AppContext.BaseDirectory}: cannot run scripts/fetch-guest.sh");
        string commands = Path.Combine(Path.GetTempPath(), $"virt-e2e-commands-{Guid.NewGuid():N}.txt");
        File.WriteAllText(commands, script.Replace("\r\n", "\n") + "\n");
        try
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(root, "scripts", "fetch-guest.sh"));
            psi.ArgumentList.Add("--commands");
            psi.ArgumentList.Add(commands);
            using var p = Process.Start(psi)!;
            Task<string> err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); return (null, null, "scripts/fetch-guest.sh did not finish within 10 minutes"); }
            if (p.ExitCode != 0) return (null, null, $"the Linux guest could not be fetched (scripts/fetch-guest.sh exited {p.ExitCode}): {err.Result.Trim()}");
            string? Value(string key) => output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..];
            string? kernel = Value("VMLINUZ"), initrd = Value("INITRAMFS_COMMANDS");
            if (kernel is null || initrd is null || !File.Exists(kernel) || !File.Exists(initrd))
                return (null, null, $"scripts/fetch-guest.sh did not report a kernel and an initramfs: {output}");
            return (kernel, initrd, null);
        }
        finally
        {
            File.Delete(commands);
        }
    }

    private static string? RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Virt.sln")) && File.Exists(Path.Combine(d.FullName, "scripts", "fetch-guest.sh"))) return d.FullName;
        return null;
    }
}

/// <summary>A fact that needs the Linux guest: skipped, with the reason, only when it cannot be fetched.</summary>
public sealed class LinuxGuestFactAttribute : FactAttribute
{
    public LinuxGuestFactAttribute()
    {
        if (LinuxGuest.MissingReason is { } why) Skip = why;
    }
}
