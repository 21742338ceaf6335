using Virt.DeviceModel.Cli;
using Virt.DeviceModel.TestDevices;

namespace Virt.DeviceModel.Hosting;

/// <summary>virt-dm's devices: the PC (<see cref="PcDevices"/>, all of it or the subset --devices names) and, with --test-devices, the I/O test device.</summary>
public static class PcDeviceSet
{
    public static DeviceSetFactory For(DeviceModelOptions options) => (bus, host, ramSize) =>
    {
        PcDevices pc = PcDevices.Create(bus, host, ramSize, options.Serial, options.Devices);
        if (options.TestDevices)
        {
            var test = new IoTestDevice();
            test.Attach(host);
            bus.Add(test);
        }
        return new DeviceSet(pc.Start, pc.Flush, pc.Dispose);
    };
}
