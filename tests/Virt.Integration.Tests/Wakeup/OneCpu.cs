using System.Runtime.InteropServices;

namespace Virt.Integration.Tests.Wakeup;

/// <summary>Pins the calling thread to one CPU (sched_setaffinity on the thread itself): .NET has no per-thread affinity.</summary>
internal static partial class OneCpu
{
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int sched_setaffinity(int pid, nint size, ulong* mask);

    public static unsafe void Pin(int cpu)
    {
        ulong* mask = stackalloc ulong[16];
        for (int i = 0; i < 16; i++) mask[i] = 0;
        mask[cpu / 64] = 1UL << (cpu % 64);
        if (sched_setaffinity(0, 16 * sizeof(ulong), mask) != 0)
            throw new InvalidOperationException($"sched_setaffinity to CPU {cpu}: errno {Marshal.GetLastPInvokeError()}");
    }
}
