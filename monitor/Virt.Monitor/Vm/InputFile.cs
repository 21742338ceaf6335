using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Virt.Monitor.Vm;

/// <summary>
/// Reads a user-named input file (--kernel, --initrd, --bios) safely: only a regular file, only up
/// to a size bound known before a byte is read. File.ReadAllBytes would block forever on a FIFO
/// (open waits for a writer) and read /dev/zero until memory runs out, so the file is opened
/// non-blocking and its type and size come from fstat on that same descriptor (no race with a
/// rename between the check and the read).
/// </summary>
public static partial class InputFile
{
    private const int O_RDONLY = 0, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    private const uint S_IFMT = 0xF000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFSOCK = 0xC000;
    // struct stat on Linux x86-64 (the only host this project runs on): 144 bytes, st_mode at 24, st_size at 48.
    private const int StatSize = 144, StModeOffset = 24, StSizeOffset = 48;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static unsafe partial int FStat(int fd, byte* buf);

    /// <summary>
    /// The whole file, which must be a regular file of at most <paramref name="maxBytes"/> bytes.
    /// Throws <see cref="IOException"/> with a message naming <paramref name="what"/> and the path.
    /// </summary>
    public static byte[] ReadAll(string path, string what, long maxBytes)
    {
        int fd = Open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{what} {path}: {Describe(errno)}");
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        (uint mode, long size) = Stat(fd, path, what);
        if ((mode & S_IFMT) != S_IFREG)
            throw new IOException($"{what} {path}: not a regular file ({KindOf(mode)}); give the image as a file");
        if (size > maxBytes)
            throw new IOException($"{what} {path}: {size} bytes, more than the {maxBytes} bytes a {what} may have here");
        // One byte more than fstat said: a file that grows while it is read is noticed, never read without end.
        byte[] buffer = new byte[size + 1];
        long done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan((int)done), done);
            if (n == 0) break;
            done += n;
        }
        if (done != size) throw new IOException($"{what} {path}: changed size while it was read ({size} bytes, then {done}); is something writing it?");
        return buffer.AsSpan(0, (int)size).ToArray();
    }

    private static unsafe (uint Mode, long Size) Stat(int fd, string path, string what)
    {
        byte* st = stackalloc byte[StatSize];
        if (FStat(fd, st) != 0) throw new IOException($"{what} {path}: {Describe(Marshal.GetLastPInvokeError())}");
        return (*(uint*)(st + StModeOffset), *(long*)(st + StSizeOffset));
    }

    private static string KindOf(uint mode) => (mode & S_IFMT) switch
    {
        S_IFDIR => "a directory",
        S_IFIFO => "a FIFO",
        S_IFCHR => "a character device",
        S_IFBLK => "a block device",
        S_IFSOCK => "a socket",
        _ => "not a file",
    };

    private static string Describe(int errno) => errno switch
    {
        2 => "no such file",
        13 => "permission denied",
        20 => "a path component is not a directory",
        40 => "too many symbolic links",
        _ => $"cannot open (errno {errno})",
    };
}
