namespace Virt.Devices.Metrics;

/// <summary>
/// A device's own counters, in the manner of Firecracker's per-device metrics structs and
/// rust-vmm's SerialEvents: only what the device itself observes (bytes moved, bytes lost to an
/// overrun, interrupts raised), counted with plain increments on the thread that drives the
/// device, so counting costs nothing worth measuring. A host reads them through this interface
/// (on the device's thread, or with it stopped) and reports them under <see cref="Device"/>.
/// </summary>
public interface IDeviceMetrics
{
    /// <summary>The device's name, as in its claims (<c>IDevice.Name</c>): the key of the run's report.</summary>
    string Device { get; }

    /// <summary>Every counter, zero ones included, always in the same order (the report's order).</summary>
    IReadOnlyList<DeviceCounter> Snapshot();
}
