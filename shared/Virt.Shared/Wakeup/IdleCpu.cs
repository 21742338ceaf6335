using Microsoft.Win32.SafeHandles;

namespace Virt.Shared.Wakeup;

/// <summary>
/// Whether some CPU is likely idle right now: the kernel's count of runnable tasks (the fourth
/// field of /proc/loadavg, "running/total") is at most the CPU count. A waiter that shares a CPU
/// with its peer asks this before sleeping to let the scheduler spread the pair (AdaptiveSpin):
/// with a third busy process there is nowhere to go, and the sleep would only cost a wake-up.
/// One pread of a file kept open: no allocation after the first call.
/// </summary>
public static class IdleCpu
{
    private static SafeFileHandle? s_loadavg;
    private static bool s_unavailable;

    /// <summary>True when the runnable tasks (the caller included) fit the CPUs; false when they do not or the count cannot be read.</summary>
    public static bool Likely()
    {
        if (s_unavailable) return false;
        try
        {
            s_loadavg ??= File.OpenHandle("/proc/loadavg");
            Span<byte> text = stackalloc byte[128];
            int n = RandomAccess.Read(s_loadavg, text, 0);
            return RunnableTasks(text[..n]) is int running && running <= Environment.ProcessorCount;
        }
        catch (IOException)
        {
            s_unavailable = true;
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            s_unavailable = true;
            return false;
        }
    }

    /// <summary>The runnable-task count of a /proc/loadavg line ("0.96 1.79 3.28 2/345 12345"), or null.</summary>
    public static int? RunnableTasks(ReadOnlySpan<byte> line)
    {
        int field = 0, i = 0;
        while (i < line.Length && field < 3)
            if (line[i++] == (byte)' ') field++;
        int value = 0, digits = 0;
        for (; i < line.Length && line[i] is >= (byte)'0' and <= (byte)'9'; i++, digits++) value = value * 10 + (line[i] - '0');
        return field == 3 && digits > 0 && i < line.Length && line[i] == (byte)'/' ? value : null;
    }
}
