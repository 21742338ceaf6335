using Virt.Monitor.Launch;

namespace Virt.Monitor.Attachment;

/// <summary>
/// `virt run --restart-dm`: a failed device model the monitor started is killed (a hung one still
/// holds its exit) and started again with the same command, at most <see cref="MaxAutomaticRestarts"/>
/// times per run. The new one's Hello retires the failed one and gets its held exit (docs/device-models.md).
/// </summary>
public sealed class RestartPolicy(DeviceModelLauncher launcher, bool enabled, Action<string> log)
{
    public const int MaxAutomaticRestarts = 5;

    private int _restarts;

    /// <summary>Whether <paramref name="failed"/> is restarted (then it is, in the background).</summary>
    public bool OnFailed(DeviceModelAttachment failed)
    {
        if (!enabled || failed.Launch is not { } launch) return false;
        if (Interlocked.Increment(ref _restarts) > MaxAutomaticRestarts)
        {
            Console.Error.WriteLine($"virt: not restarting '{failed.Name}': {MaxAutomaticRestarts} automatic restarts already");
            return false;
        }
        _ = Task.Run(() => Restart(failed.Name, launch));
        return true;
    }

    private void Restart(string name, LaunchedDeviceModel launch)
    {
        // A hung device model still holds its exit: it goes before the new one starts.
        launch.Process.Kill();
        try
        {
            var again = launcher.Start(launch.Command, launch.PlatformAuthority);
            log($"restarting device model '{name}': pid {again.Process.Pid}");
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"virt: could not restart the device model: {e.Message}");
        }
    }
}
