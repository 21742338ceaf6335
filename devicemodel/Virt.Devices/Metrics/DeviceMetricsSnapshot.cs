using Virt.Devices.Bus;

namespace Virt.Devices.Metrics;

/// <summary>The counters of a set of devices, for a host that reports them (the monitor's platform, a device model).</summary>
public static class DeviceMetricsSnapshot
{
    /// <summary>(device, counters) of every device that keeps counters, in the order given; call on the devices' thread or with it stopped.</summary>
    public static IReadOnlyList<(string Device, IReadOnlyList<DeviceCounter> Counters)> Of(IEnumerable<IDevice> devices) =>
        devices.OfType<IMeasuredDevice>().Select(d => (d.Metrics.Device, d.Metrics.Snapshot())).ToList();
}
