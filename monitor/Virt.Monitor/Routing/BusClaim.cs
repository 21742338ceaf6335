using Virt.Devices.Bus;
using Virt.Shared.Control;

namespace Virt.Monitor.Routing;

/// <summary>
/// Who answers a range of ports or MMIO addresses: a device hosted in the monitor, or one attached
/// device model; for a device model also the range's access policy (batched writes, cached reads),
/// which the monitor honours only in `--io batched` mode. The owner of its range in the router's
/// <see cref="Virt.Shared.Routing.AddressMap{T}"/>s. A device model's side-effect-free region
/// (<see cref="ClaimFlags.Regions"/>) is answered by the monitor: a constant port range reads as
/// <paramref name="ConstantValue"/>, a shared-memory range is plain memory with no exit. An
/// <see cref="Awaited"/> claim is a restored snapshot's device-model range whose model is still
/// starting: an exit there waits for it.
/// </summary>
public sealed record BusClaim(BusRange Range, string Device, IDevice? Local, IDeviceModelEndpoint? DeviceModel = null, ClaimFlags Policy = ClaimFlags.None,
    uint ConstantValue = 0, bool Awaited = false)
{
    public bool IsDeviceModel => Local is null;

    /// <summary>A port range the monitor answers with <see cref="ConstantValue"/> (writes dropped): no exit reaches the device model.</summary>
    public bool IsConstant => (Policy & ClaimFlags.Constant) != 0;

    /// <summary>An MMIO range mapped as memory shared with the device model: the guest's accesses never exit.</summary>
    public bool IsSharedMemory => (Policy & ClaimFlags.SharedMemory) != 0;

    public string Owner => IsDeviceModel
        ? $"'{Device}' (device model{(DeviceModel is { } dm ? $" {dm.Id} '{dm.Name}'" : Awaited ? ", starting" : "")})"
        : $"'{Device}' (monitor)";
}
