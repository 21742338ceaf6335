using Virt.DeviceModel.Hosting;

namespace Virt.BenchDeviceModel;

/// <summary>A device set with the <see cref="IoTestDevice"/> added to its bus: virt-dm's PC plus the test device, in one model as the I/O workloads expect.</summary>
public static class IoTestDeviceSet
{
    public static DeviceSetFactory With(DeviceSetFactory devices) => (bus, host, ramSize) =>
    {
        DeviceSet set = devices(bus, host, ramSize);
        var test = new IoTestDevice();
        test.Attach(host);
        bus.Add(test);
        return set;
    };
}
