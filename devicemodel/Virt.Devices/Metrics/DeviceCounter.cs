namespace Virt.Devices.Metrics;

/// <summary>One counter of a device: a snake_case name (e.g. "rx_overruns") and its value since the device was made.</summary>
public readonly record struct DeviceCounter(string Name, long Value);
