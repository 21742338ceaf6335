using Virt.Devices.Bus;

namespace Virt.Monitor.Exits;

/// <summary>Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or one attached device model.</summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local, IDeviceModelEndpoint? DeviceModel = null)
{
    public bool IsDeviceModel => Local is null;

    public string Owner => IsDeviceModel
        ? $"'{Device}' (device model{(DeviceModel is { } dm ? $" {dm.Id} '{dm.Name}'" : "")})"
        : $"'{Device}' (monitor)";
}
