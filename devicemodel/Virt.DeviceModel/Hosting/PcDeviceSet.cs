using Virt.DeviceModel.Cli;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// virt-dm's devices: the PC (<see cref="PcDevices"/>, all of it or the subset --devices names).
/// Models that serve more (virt-dm-bench --io-test adds the benchmarks' I/O test device) compose
/// this factory with their own devices.
/// </summary>
public static class PcDeviceSet
{
    public static DeviceSetFactory For(DeviceModelOptions options) => (bus, host, ramSize) =>
    {
        PcDevices pc = PcDevices.Create(bus, host, ramSize, options.Serial, options.Devices);
        return new DeviceSet(pc.Start, pc.Flush, pc.Dispose);
    };
}
