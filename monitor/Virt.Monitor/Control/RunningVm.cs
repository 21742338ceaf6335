using System.Globalization;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Control;

/// <summary>A VM found through its directory under the runtime directory: live owner, control socket, secret readable by us.</summary>
public sealed record RunningVm(string Directory, int MonitorPid)
{
    public string SocketFile => Path.Combine(Directory, VmDirectory.SocketFileName);
    public string SecretFile => Path.Combine(Directory, VmDirectory.SecretFileName);
    public string Id => Path.GetFileName(Directory);

    /// <summary>Every VM whose monitor is alive (stale directories are left for the next virt run to remove).</summary>
    public static IReadOnlyList<RunningVm> All()
    {
        string baseDir = VmDirectory.BaseDirectory();
        var list = new List<RunningVm>();
        foreach (string dir in System.IO.Directory.EnumerateDirectories(baseDir, "vm-*").Order(StringComparer.Ordinal))
        {
            int pid = VmDirectory.OwnerPid(dir);
            if (pid != 0 && ProcessLiveness.IsAlive(pid) && File.Exists(Path.Combine(dir, VmDirectory.SocketFileName)))
                list.Add(new RunningVm(dir, pid));
        }
        return list;
    }

    /// <summary>Finds a VM by monitor pid, directory name (vm-PID-XXXX) or directory path.</summary>
    public static RunningVm Find(string which)
    {
        IReadOnlyList<RunningVm> all = All();
        RunningVm? vm = int.TryParse(which, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            ? all.FirstOrDefault(v => v.MonitorPid == pid)
            : all.FirstOrDefault(v => v.Id == which || v.Directory == Path.GetFullPath(which));
        return vm ?? throw new ArgumentException($"no running VM '{which}' in {VmDirectory.BaseDirectory()} (see virt list)");
    }

    public byte[] ReadSecret()
    {
        try
        {
            return Convert.FromHexString(File.ReadAllText(SecretFile).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new IOException($"cannot read the secret of {Id}: {e.Message}");
        }
    }
}
