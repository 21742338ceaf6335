using System.Runtime.InteropServices;

namespace Virt.Shared.Runtime;

/// <summary>Is a process still there? kill(pid, 0): no signal is sent, only the existence check.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static partial class ProcessLiveness
{
    private const int Esrch = 3;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        if (Kill(pid, 0) == 0) return true;
        // EPERM means it exists but is someone else's: alive.
        return Marshal.GetLastPInvokeError() != Esrch;
    }
}
