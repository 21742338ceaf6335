using Virt.Devices.Bus;

namespace Virt.DeviceModel.Hosting;

/// <summary>Builds the devices of one device model on its bus (the PC set of virt-dm, the harness set of virt-harness, ...).</summary>
public delegate DeviceSet DeviceSetFactory(DeviceBus bus, IDeviceHost host, ulong ramSize);

/// <summary>What the session needs from a set of devices besides the bus: start its threads, flush its console, release it.</summary>
public sealed record DeviceSet(Action<Func<bool>> Start, Action Flush, Action Dispose);
