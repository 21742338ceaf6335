using System.Diagnostics;

namespace Virt.Monitor.Guests;

/// <summary>
/// guests/build.sh of the repository this virt runs from (found upwards from the current directory or
/// virt's own): compiles a freestanding C guest or firmware, cached by source hash outside the tree.
/// </summary>
public static class GuestBuildScript
{
    /// <summary>`guests/build.sh KIND NAME` (KIND: guest or firmware); the path of the image it printed.</summary>
    /// <param name="forWhat">Who needs it, for the message when virt does not run from the repository.</param>
    /// <exception cref="ArgumentException">No repository found, or the build failed (its message included).</exception>
    public static string Build(string kind, string name, string forWhat)
    {
        string? root = null;
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null && root is null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Virt.sln")) && File.Exists(Path.Combine(d.FullName, "guests", "build.sh"))) root = d.FullName;
        if (root is null) throw new ArgumentException($"{forWhat} builds guests/{name}.c: run virt from inside the repository");
        var psi = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Path.Combine(root, "guests", "build.sh"), kind, name]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /bin/sh");
        Task<string> err = p.StandardError.ReadToEndAsync();
        string path = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new ArgumentException($"guests/build.sh {kind} {name} failed (needs gcc, gcc-multilib): {err.Result.Trim()}");
        return path;
    }
}
