using Virt.Devices.Bus;

namespace Virt.DeviceModel.Hosting;

/// <summary>A device that claims ranges and does nothing (the --test-claim hook and unclaimed-port tests).</summary>
public sealed class NullDevice(string name, IReadOnlyList<BusRange> ranges) : IDevice
{
    public string Name => name;
    public IReadOnlyList<BusRange> Ranges => ranges;
    public void Attach(IDeviceHost host) { }
}
