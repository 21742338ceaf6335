using Virt.Devices.Bus;
using Virt.Shared.Control;

namespace Virt.Monitor.Routing;

/// <summary>
/// Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or one attached
/// device model; for a device model also the range's access policy (batched writes, cached reads),
/// which the monitor honours only in `--io batched` mode. The owner of its range in the router's
/// <see cref="Virt.Shared.Routing.AddressMap{T}"/>s. An <see cref="Awaited"/> claim is a restored
/// snapshot's device-model range whose model is still starting: an exit there waits for it.
/// </summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local, IDeviceModelEndpoint? DeviceModel = null, ClaimFlags Policy = ClaimFlags.None,
    bool Awaited = false)
{
    public bool IsDeviceModel => Local is null;

    public string Owner => IsDeviceModel
        ? $"'{Device}' (device model{(DeviceModel is { } dm ? $" {dm.Id} '{dm.Name}'" : Awaited ? ", starting" : "")})"
        : $"'{Device}' (monitor)";
}
