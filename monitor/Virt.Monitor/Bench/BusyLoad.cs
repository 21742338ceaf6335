using System.Diagnostics;
using System.Globalization;

namespace Virt.Monitor.Bench;

/// <summary>
/// The competing load of `virt bench wakeup --load busy`: a shell busy loop pinned to the last CPU
/// (taskset, where installed; otherwise it floats), so that one of the two processes measured
/// shares its core with something that never sleeps. `--load busy-all` pins one to every CPU: no
/// CPU is left to the two processes alone, as on a machine whose builds use every core.
/// </summary>
public sealed class BusyLoad : IDisposable
{
    private readonly List<Process> _processes;

    private BusyLoad(List<Process> processes, string description)
    {
        _processes = processes;
        Description = description;
    }

    public string Description { get; }

    /// <param name="everyCpu">A loop on every CPU instead of the last one only.</param>
    public static BusyLoad Start(bool everyCpu = false)
    {
        bool pin = File.Exists("/usr/bin/taskset") || File.Exists("/bin/taskset");
        int last = Environment.ProcessorCount - 1;
        int first = everyCpu ? 0 : last;
        var processes = new List<Process>();
        try
        {
            for (int cpu = first; cpu <= last; cpu++) processes.Add(Loop(pin, cpu));
        }
        catch
        {
            new BusyLoad(processes, "").Dispose();
            throw;
        }
        string where = first == last ? $"CPU {last}" : $"CPUs {first}-{last}";
        return new BusyLoad(processes, pin ? $"{processes.Count} busy loop(s) pinned to {where}" : $"{processes.Count} busy loop(s) (unpinned: no taskset)");
    }

    private static Process Loop(bool pin, int cpu)
    {
        var psi = new ProcessStartInfo(pin ? "taskset" : "sh") { UseShellExecute = false };
        if (pin) foreach (string a in new[] { "-c", cpu.ToString(CultureInfo.InvariantCulture), "sh" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("while :; do :; done");
        return Process.Start(psi) ?? throw new IOException("could not start the busy loop");
    }

    public void Dispose()
    {
        foreach (Process p in _processes)
        {
            try { p.Kill(); p.WaitForExit(2000); }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
    }
}
