using System.Diagnostics;

namespace Virt.Monitor.Bench;

/// <summary>
/// The competing load of `virt bench wakeup --load busy`: a shell busy loop pinned to the last CPU
/// (taskset, where installed; otherwise it floats), so that one of the two processes measured
/// shares its core with something that never sleeps.
/// </summary>
public sealed class BusyLoad : IDisposable
{
    private readonly Process _process;

    private BusyLoad(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public static BusyLoad Start()
    {
        int cpu = Environment.ProcessorCount - 1;
        bool pin = File.Exists("/usr/bin/taskset") || File.Exists("/bin/taskset");
        var psi = new ProcessStartInfo(pin ? "taskset" : "sh") { UseShellExecute = false };
        if (pin) foreach (string a in new[] { "-c", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture), "sh" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("while :; do :; done");
        Process p = Process.Start(psi) ?? throw new IOException("could not start the busy loop");
        return new BusyLoad(p, pin ? $"a busy loop pinned to CPU {cpu}" : "a busy loop (unpinned: no taskset)");
    }

    public void Dispose()
    {
        try { _process.Kill(); _process.WaitForExit(2000); }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
