using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.State;
using Virt.Monitor.Vm;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// Puts a snapshot's monitor side back into a freshly built machine before any guest code runs:
/// the guest clock (so timers and the TSC keep their phase), the CPU, the platform devices and A20.
/// RAM is <see cref="SnapshotFile.LoadRam"/>'s; the device models get their state after their Welcome.
/// </summary>
public static class SnapshotRestorer
{
    /// <summary>Throws <see cref="SnapshotException"/> when a part does not fit this machine.</summary>
    public static void Restore(SnapshotManifest m, Cpu.Cpu cpu, PcPlatform platform, PhysicalMemory memory)
    {
        try
        {
            platform.Clock.ContinueFrom(m.Platform.ClockTimestamp, m.Cpu.InstructionsRetired);
            cpu.RestoreSnapshot(m.Cpu.ToSnapshot());
            var devices = platform.Devices.OfType<IStatefulDevice>().ToDictionary(d => ((IDevice)d).Name);
            foreach (DeviceStateImage s in m.Platform.Devices)
            {
                if (!devices.Remove(s.Device, out IStatefulDevice? d))
                    throw new SnapshotException($"the saved platform has a device '{s.Device}' this monitor lacks");
                d.RestoreState(s.Blob);
            }
            if (devices.Count > 0) throw new SnapshotException($"the snapshot holds no state for the platform's {string.Join(", ", devices.Keys)}");
            memory.A20Enabled = m.Platform.A20Enabled;
        }
        catch (Exception e) when (e is DeviceStateException or ArgumentException or InvalidDataException)
        {
            throw new SnapshotException(e.Message);
        }
    }
}
