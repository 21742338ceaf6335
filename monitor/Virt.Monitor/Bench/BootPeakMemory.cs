using System.Globalization;

namespace Virt.Monitor.Bench;

/// <summary>
/// The peak resident memory of a process and all its descendants (virt and its device models),
/// from the kernel's high-water mark VmHWM in /proc/PID/status, sampled while they run: the sum
/// over the processes of each one's peak. A process's last sample stands once it has exited.
/// </summary>
public sealed class PeakMemory(int rootPid)
{
    private readonly Dictionary<int, long> _peak = new();

    public long PeakBytes => _peak.Values.Sum();

    public void Sample()
    {
        foreach (int pid in Tree(rootPid))
            if (HighWaterMark(pid) is { } bytes && bytes > _peak.GetValueOrDefault(pid)) _peak[pid] = bytes;
    }

    private static IEnumerable<int> Tree(int pid)
    {
        yield return pid;
        string tasks = $"/proc/{pid}/task";
        string[] threads;
        try { threads = Directory.GetDirectories(tasks); } catch (IOException) { yield break; } catch (UnauthorizedAccessException) { yield break; }
        foreach (string t in threads)
        {
            string children;
            try { children = File.ReadAllText(Path.Combine(t, "children")); } catch (IOException) { continue; } catch (UnauthorizedAccessException) { continue; }
            foreach (string c in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int child))
                    foreach (int d in Tree(child)) yield return d;
        }
    }

    private static long? HighWaterMark(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
