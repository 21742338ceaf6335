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

    /// <summary>The state is a crash snapshot: the guest ran on after it; devices bring themselves to a state its drivers recover from.</summary>
    public static void RecoverAfterCrash(DeviceBus bus)
    {
        lock (bus.Lock)
            foreach (ICrashRecovery d in bus.Devices.OfType<ICrashRecovery>()) d.RecoverAfterCrash();
    }
}
