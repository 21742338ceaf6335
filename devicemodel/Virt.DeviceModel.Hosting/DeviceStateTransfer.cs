using Virt.DeviceModelKit.Attach;
using Virt.Devices.Bus;
using Virt.Devices.State;
using Virt.Shared.Control;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// Device state moving through the monitor when device models are swapped: each stateful device
/// (UART, RTC/CMOS, ...) saves a versioned blob under its name; the device of the same name in
/// the next device model restores it. A blob for a device this model lacks, or in a format it
/// does not know, is reported and skipped: that device starts fresh.
/// </summary>
public static class DeviceStateTransfer
{
    public static List<DeviceState> Save(DeviceBus bus)
    {
        lock (bus.Lock)
            return bus.Devices.OfType<IStatefulDevice>().Select(d => new DeviceState(((IDevice)d).Name, d.SaveState())).ToList();
    }

    public static void Restore(DeviceBus bus, IReadOnlyList<DeviceState> blobs)
    {
        lock (bus.Lock)
        {
            foreach (DeviceState s in blobs)
            {
                if (bus.Devices.FirstOrDefault(d => d.Name == s.Device) is not IStatefulDevice device)
                {
                    DeviceModelProgram.Error($"no device '{s.Device}' here for its saved state; skipped");
                    continue;
                }
                try
                {
                    device.RestoreState(s.Blob);
                }
                catch (DeviceStateException e)
                {
                    DeviceModelProgram.Error($"state of '{s.Device}' not restored: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// A VM that waited for a restore hands over the saved state after Ready (RestoreState, protocol 1.6): every blob
    /// must name a stateful device here and be in a format it reads, or none is taken. The devices' state before is kept
    /// and put back when one refuses, so a refused restore leaves them as they were (the VM goes on waiting). Returns why not, or null.
    /// </summary>
    public static string? TryRestoreAll(DeviceBus bus, IReadOnlyList<DeviceState> blobs)
    {
        lock (bus.Lock)
        {
            var devices = bus.Devices.OfType<IStatefulDevice>().ToDictionary(d => ((IDevice)d).Name);
            if (blobs.FirstOrDefault(s => !devices.ContainsKey(s.Device)) is { } stray)
                return $"no device '{stray.Device}' here for its saved state (this model has {(devices.Count == 0 ? "no stateful device" : string.Join(", ", devices.Keys))})";
            var before = blobs.Select(s => (Device: devices[s.Device], Blob: devices[s.Device].SaveState())).ToList();
            for (int i = 0; i < blobs.Count; i++)
            {
                try
                {
                    devices[blobs[i].Device].RestoreState(blobs[i].Blob);
                }
                catch (DeviceStateException e)
                {
                    // Back to what they were, in the same order (a device's own blob always restores).
                    for (int j = 0; j <= i; j++) before[j].Device.RestoreState(before[j].Blob);
                    return $"the state of '{blobs[i].Device}' cannot be restored: {e.Message}";
                }
            }
            bus.RefreshCachedReads();
            bus.SnapshotForCrash();
            return null;
        }
    }

    /// <summary>The state is a crash snapshot: the guest ran on after it; devices bring themselves to a state its drivers recover from.</summary>
    public static void RecoverAfterCrash(DeviceBus bus)
    {
        lock (bus.Lock)
            foreach (ICrashRecovery d in bus.Devices.OfType<ICrashRecovery>()) d.RecoverAfterCrash();
    }
}
