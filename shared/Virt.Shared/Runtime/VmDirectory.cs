namespace Virt.Shared.Runtime;

/// <summary>
/// The private directory of one VM: guest RAM, comm pages, the control socket, the secret file
/// and owner.pid. Lives under $VIRT_RUNTIME_DIR, else $XDG_RUNTIME_DIR/virt, else /tmp/virt-UID
/// (all created 0700). Removed when the VM ends; a directory whose owner pid is dead is stale and
/// removed by the next `virt` or by the device model that saw its monitor die.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VmDirectory
{
    public const string RamFileName = "ram";
    public const string CommFileName = "comm";
    public const string SocketFileName = "control.sock";
    public const string SecretFileName = "secret";
    public const string OwnerFileName = "owner.pid";

    private VmDirectory(string path) => Path = path;

    public string Path { get; }
    public string RamFile => System.IO.Path.Combine(Path, RamFileName);
    public string CommFile => System.IO.Path.Combine(Path, CommFileName);
    public string SocketFile => System.IO.Path.Combine(Path, SocketFileName);
    public string SecretFile => System.IO.Path.Combine(Path, SecretFileName);

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The parent of all VM directories, created 0700 if missing.</summary>
    public static string BaseDirectory()
    {
        string? dir = Environment.GetEnvironmentVariable("VIRT_RUNTIME_DIR");
        if (string.IsNullOrEmpty(dir))
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            dir = !string.IsNullOrEmpty(xdg) && Directory.Exists(xdg)
                ? System.IO.Path.Combine(xdg, "virt")
                : System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"virt-{Environment.UserName}");
        }
        Directory.CreateDirectory(dir, Private);
        // A directory someone else made in /tmp must not be trusted with our secrets.
        if ((File.GetUnixFileMode(dir) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.OtherRead | UnixFileMode.GroupRead)) != 0)
            throw new IOException($"{dir} is readable or writable by others; refusing to use it (chmod 700 it or set VIRT_RUNTIME_DIR)");
        return dir;
    }

    /// <summary>Creates a fresh directory for a VM owned by this process.</summary>
    public static VmDirectory Create()
    {
        string baseDir = BaseDirectory();
        RemoveStale(baseDir);
        string path = System.IO.Path.Combine(baseDir, $"vm-{Environment.ProcessId}-{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLowerInvariant()}");
        Directory.CreateDirectory(path, Private);
        File.WriteAllText(System.IO.Path.Combine(path, OwnerFileName), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new VmDirectory(path);
    }

    /// <summary>Opens an existing VM directory (the device model).</summary>
    public static VmDirectory Open(string path) => new(path);

    /// <summary>The pid in owner.pid, or 0.</summary>
    public static int OwnerPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(System.IO.Path.Combine(path, OwnerFileName)).Trim(), out int pid) ? pid : 0;
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>Removes VM directories whose owner process is dead. Returns how many.</summary>
    public static int RemoveStale(string baseDir)
    {
        int removed = 0;
        foreach (string dir in Directory.EnumerateDirectories(baseDir, "vm-*"))
        {
            int pid = OwnerPid(dir);
            // No owner file yet: a VM being created right now; leave it unless it is old.
            if (pid == 0 && Directory.GetCreationTimeUtc(dir) > DateTime.UtcNow.AddMinutes(-1)) continue;
            if (pid != 0 && ProcessLiveness.IsAlive(pid)) continue;
            if (TryRemove(dir)) removed++;
        }
        return removed;
    }

    public static bool TryRemove(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    public bool Remove() => !Directory.Exists(Path) || TryRemove(Path);
}
