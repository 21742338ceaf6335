using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Virt.Shared.Runtime;

/// <summary>
/// A shared-memory file whose size nobody can change: a memfd sealed with F_SEAL_SHRINK,
/// F_SEAL_GROW and F_SEAL_SEAL. The monitor maps guest RAM and the comm regions from such files,
/// so a device model that calls ftruncate on them gets EPERM instead of making the monitor's next
/// access to a vanished page a SIGBUS (a fatal AccessViolationException in .NET). Device models
/// still open it by its name in the VM directory: that name is a symbolic link to
/// /proc/MONITOR-PID/fd/N, which opens the same memfd (same user; no protocol change, any language).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static partial class SealedFile
{
    private const uint MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
    private const int F_ADD_SEALS = 1033;
    private const int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FTruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    /// <summary>
    /// Creates a sealed memfd of <paramref name="size"/> bytes (zeroed), links it as
    /// <paramref name="linkPath"/> (which must not exist) and returns it open read-write.
    /// </summary>
    public static FileStream Create(string linkPath, long size)
    {
        int fd = MemfdCreate(Path.GetFileName(linkPath), MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) throw new IOException($"memfd_create for {linkPath}: errno {Marshal.GetLastPInvokeError()}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (FTruncate(fd, size) != 0) throw new IOException($"ftruncate of {linkPath} to {size} bytes: errno {Marshal.GetLastPInvokeError()}");
            if (Fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
                throw new IOException($"sealing {linkPath}: errno {Marshal.GetLastPInvokeError()}");
            File.CreateSymbolicLink(linkPath, $"/proc/{Environment.ProcessId}/fd/{fd}");
            return new FileStream(handle, FileAccess.ReadWrite);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
