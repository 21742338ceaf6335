namespace Virt.Devices.Metrics;

/// <summary>A device that keeps its own counters (<see cref="IDeviceMetrics"/>).</summary>
public interface IMeasuredDevice
{
    IDeviceMetrics Metrics { get; }
}
