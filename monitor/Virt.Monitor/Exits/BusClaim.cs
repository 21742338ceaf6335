using Virt.Devices.Bus;
using Virt.Shared.Control;

namespace Virt.Monitor.Exits;

/// <summary>
/// Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or the device
/// model; for the device model also the range's access policy (batched writes, cached reads),
/// which the monitor honours only in `--io batched` mode.
/// </summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local, ClaimFlags Policy = ClaimFlags.None)
{
    public bool IsDeviceModel => Local is null;

    public string Owner => IsDeviceModel ? $"'{Device}' (device model)" : $"'{Device}' (monitor)";
}
