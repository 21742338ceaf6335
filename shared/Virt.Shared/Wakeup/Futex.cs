using System.Runtime.InteropServices;

namespace Virt.Shared.Wakeup;

/// <summary>
/// Linux futex on a word of a shared file mapping. Not FUTEX_PRIVATE: the waiter and the waker
/// are different processes, so the kernel must key the futex by the backing page, not the mm.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static unsafe partial class Futex
{
    private const int FutexWait = 0, FutexWake = 1;

    // SYS_futex differs by architecture.
    private static readonly long SysFutex = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        Architecture.X86 => 240,
        _ => -1,
    };

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // glibc's syscall() is variadic; on x86-64 and arm64 integer arguments are passed as for a
    // non-variadic call, and glibc's implementation is assembly that ignores AL.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, uint* address, int op, uint value, Timespec* timeout, nint address2, uint value3);

    public static bool Supported => OperatingSystem.IsLinux() && SysFutex > 0;

    /// <summary>Sleeps while *address == expected, at most <paramref name="timeoutMicros"/> (negative: forever). Spurious returns are normal.</summary>
    public static void Wait(uint* address, uint expected, long timeoutMicros)
    {
        if (timeoutMicros < 0)
        {
            Syscall(SysFutex, address, FutexWait, expected, null, 0, 0);
            return;
        }
        var ts = new Timespec { Seconds = timeoutMicros / 1_000_000, Nanoseconds = timeoutMicros % 1_000_000 * 1000 };
        Syscall(SysFutex, address, FutexWait, expected, &ts, 0, 0);
    }

    /// <summary>Wakes up to <paramref name="count"/> waiters on the word.</summary>
    public static void Wake(uint* address, int count = int.MaxValue) =>
        Syscall(SysFutex, address, FutexWake, (uint)count, null, 0, 0);
}
