using Virt.Monitor.Transport;

namespace Virt.Monitor.Routing;

/// <summary>An attached device model as the exit router sees it: a name for reports and the port its exits go through.</summary>
public interface IDeviceModelEndpoint
{
    uint Id { get; }

    string Name { get; }

    DeviceModelPort Port { get; }
}
