using Virt.Devices.Bus;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The PC devices this device model hosts, and the console they are wired to.
/// (Filled in when the devices of Virt.Devices are merged.)
/// </summary>
public sealed class PcDevices : IDisposable
{
    private PcDevices() { }

    public static PcDevices Create(DeviceBus bus, IDeviceHost host, ulong ramSize, string serial)
    {
        _ = (bus, host, ramSize, serial);
        return new PcDevices();
    }

    /// <summary>Starts the console input thread.</summary>
    public void Start(Func<bool> keepRunning) => _ = keepRunning;

    public void Dispose() { }
}
