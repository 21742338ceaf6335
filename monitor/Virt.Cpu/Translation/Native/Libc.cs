using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>The few libc calls the native backend makes to map executable memory.</summary>
internal static partial class Libc
{
    public const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    public const int MapShared = 0x01, MapPrivate = 0x02, MapAnonymous = 0x20;
    public const uint MfdCloexec = 1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap")]
    public static partial int Munmap(nint addr, nuint length);

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);
}
