using Virt.Devices.Bus;

namespace Virt.Harness;

/// <summary>
/// Ports that always read the same value and ignore writes, declared so (<see cref="RegionKind.Constant"/>):
/// the monitor answers them itself and no access ever reaches this process, as for an absent device a
/// guest probes (an empty ISA slot reads all ones; some boards pull their data lines elsewhere).
/// </summary>
public sealed class ConstantPorts(ushort first, ushort count, uint value) : IDevice, IDeclaredRegions
{
    public string Name => "constant";

    /// <summary>None: every access is the monitor's.</summary>
    public IReadOnlyList<BusRange> Ranges { get; } = [];

    public IReadOnlyList<DeclaredRegion> Regions { get; } = [new(BusRange.Ports(first, count), RegionKind.Constant, value)];

    public void Attach(IDeviceHost host) { }
}
