using Virt.Devices.Bus;

namespace Virt.Monitor.Exits;

/// <summary>Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or the device model.</summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local)
{
    public bool IsDeviceModel => Local is null;

    public string Owner => IsDeviceModel ? $"'{Device}' (device model)" : $"'{Device}' (monitor)";
}
