using System.Runtime.InteropServices;

namespace Virt.Monitor.Snapshot;

/// <summary>lseek with SEEK_DATA / SEEK_HOLE (Linux 3.1+): where a sparse snapshot's RAM has data, so a restore reads only that.</summary>
internal static partial class Libc
{
    public const int SeekData = 3, SeekHole = 4;
    /// <summary>SEEK_DATA past the last data.</summary>
    public const int ENXIO = 6;

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);
}
