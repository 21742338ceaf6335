using Virt.Devices.Bus;
using Virt.Shared.Routing;

namespace Virt.Monitor.Routing;

/// <summary>
/// A device model's constant port range (<see cref="Virt.Shared.Control.ClaimFlags.Constant"/>, protocol
/// 1.5) as the device the monitor answers it with: every read is the declared value, writes are
/// dropped, no exit reaches the device model. Its claim still belongs to the model (detached with it).
/// </summary>
public sealed class ConstantPortRange(string name, BusRange range, uint value) : IDevice
{
    public string Name => name;

    public IReadOnlyList<BusRange> Ranges { get; } = [range];

    public void Attach(IDeviceHost host) { }

    public uint PortRead(ushort port, int size) => value & IoSize.AllOnes32(size);
}
