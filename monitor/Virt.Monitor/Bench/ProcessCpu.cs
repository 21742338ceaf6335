namespace Virt.Monitor.Bench;

/// <summary>
/// CPU time of a whole process from the scheduler's own accounting: the sum over its threads of
/// /proc/PID/task/TID/schedstat's first field (nanoseconds on a CPU). utime/stime in
/// /proc/PID/stat count in 10 ms ticks, too coarse for a benchmark of microsecond round trips.
/// </summary>
public static class ProcessCpu
{
    /// <summary>Nanoseconds the process has run, or -1 if the kernel does not say.</summary>
    public static long Nanoseconds(int pid)
    {
        long total = 0;
        try
        {
            foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    string s = File.ReadAllText(Path.Combine(task, "schedstat"));
                    int space = s.IndexOf(' ');
                    total += long.Parse(space < 0 ? s : s[..space], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException) { } // a thread that ended meanwhile
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return -1; }
        return total;
    }

    /// <summary>The 1-minute load average (NaN where /proc/loadavg is missing).</summary>
    public static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return double.NaN; }
    }
}
