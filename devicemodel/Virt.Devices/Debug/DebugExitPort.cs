using Virt.Devices.Bus;
using Virt.Shared.Routing;

namespace Virt.Devices.Debug;

/// <summary>
/// QEMU's isa-debug-exit: a guest write of value v asks the VM to stop with process status
/// (v &lt;&lt; 1) | 1. The status is always odd, so a test harness can tell a guest-requested exit
/// from a normal 0. The device only reports the request; the host decides how to shut down.
/// </summary>
public sealed class DebugExitPort : IDevice, IAccessPolicies
{
    /// <summary>A write ends the VM: the host must let this range raise platform events.</summary>
    public IReadOnlyList<RangePolicy> Policies => [new(_ranges[0], AccessPolicy.PlatformEvents)];

    public const ushort DefaultPort = 0xF4;

    private readonly BusRange[] _ranges;

    /// <param name="port">Base port (QEMU default 0xF4).</param>
    /// <param name="width">How many ports are claimed (QEMU's iosize, 1, 2 or 4); the whole write value counts.</param>
    public DebugExitPort(ushort port = DefaultPort, int width = 1)
    {
        if (width is not (1 or 2 or 4))
            throw new ArgumentOutOfRangeException(nameof(width), width, "The exit port is 1, 2 or 4 bytes wide.");
        _ranges = [BusRange.Ports(port, (ushort)width)];
    }

    /// <summary>Raised on every guest write, with the process status the VM should exit with.</summary>
    public event Action<int>? ExitRequested;

    /// <summary>The status of the most recent request, or null if the guest never wrote the port.</summary>
    public int? RequestedStatus { get; private set; }

    public string Name => "debug-exit";

    public IReadOnlyList<BusRange> Ranges => _ranges;

    public void Attach(IDeviceHost host) { }

    /// <summary>Reads return 0, as QEMU's device does.</summary>
    public uint PortRead(ushort port, int size) => 0;

    public void PortWrite(ushort port, int size, uint value)
    {
        uint masked = value & IoSize.AllOnes32(size);
        int status = unchecked((int)((masked << 1) | 1));
        RequestedStatus = status;
        ExitRequested?.Invoke(status);
    }
}
