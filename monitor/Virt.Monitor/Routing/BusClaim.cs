using Virt.Devices.Bus;
using Virt.Shared.Control;

namespace Virt.Monitor.Routing;

/// <summary>
/// Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or one attached
/// device model; for a device model also the range's access policy (batched writes, cached reads),
/// which the monitor honours only in `--io batched` mode. The owner of its range in the router's
/// <see cref="Virt.Shared.Routing.AddressMap{T}"/>s. A device model's side-effect-free region
/// (<see cref="ClaimFlags.Regions"/>) is answered by the monitor: a constant port range by a
/// <see cref="ConstantPortRange"/> as <paramref name="Local"/> (the model still owns the claim), a
/// shared-memory range is plain memory with no exit. An
/// <see cref="Awaited"/> claim is a restored snapshot's device-model range whose model is still
/// starting: an exit there waits for it.
/// </summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local, IDeviceModelEndpoint? DeviceModel = null, ClaimFlags Policy = ClaimFlags.None,
    bool Awaited = false)
{
    /// <summary>Exits here go to the device model (no device in the monitor answers them).</summary>
    public bool IsDeviceModel => Local is null;

    /// <summary>An MMIO range mapped as memory shared with the device model: the guest's accesses never exit.</summary>
    public bool IsSharedMemory => (Policy & ClaimFlags.SharedMemory) != 0;

    public string Owner => IsDeviceModel || DeviceModel is not null
        ? $"'{Device}' (device model{(DeviceModel is { } dm ? $" {dm.Id} '{dm.Name}'" : Awaited ? ", starting" : "")})"
        : $"'{Device}' (monitor)";
}
