using Virt.Devices.Metrics;
using Virt.Shared.Control;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The counters of a model's devices (<see cref="IDeviceMetrics"/>) as the MetricsReport the monitor
/// asks for at the end of a run (docs/control-protocol.md): one (device, counter, value) triple each.
/// </summary>
public static class DeviceCounterReport
{
    public static List<CounterValue> Collect(DeviceBus bus)
    {
        // The exit servers and the console's input thread count under the bus lock.
        lock (bus.Lock)
            return DeviceMetricsSnapshot.Of(bus.Devices)
                .SelectMany(d => d.Counters.Select(c => new CounterValue(d.Device, c.Name, (ulong)Math.Max(0, c.Value))))
                .ToList();
    }
}
