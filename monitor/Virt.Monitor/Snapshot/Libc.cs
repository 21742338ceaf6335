using System.Runtime.InteropServices;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// lseek with SEEK_DATA / SEEK_HOLE (Linux 3.1+): where a sparse snapshot's RAM has data, so a restore reads only that;
/// fallocate's hole punching: a refused restore gives the RAM memfd's pages back (all zero again).
/// </summary>
internal static partial class Libc
{
    public const int SeekData = 3, SeekHole = 4;
    /// <summary>SEEK_DATA past the last data.</summary>
    public const int ENXIO = 6;

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    public const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fallocate(int fd, int mode, long offset, long length);
}
