using Virt.Shared.Abi;

namespace Virt.Monitor.Transport;

public sealed unsafe partial class DeviceModelPort
{
    /// <summary>
    /// Completes every batched write of this device model still pending, in order, before it is
    /// detached or swapped (issue 5: a swap happens with the ring drained). The guest is paused, so
    /// nothing new can be appended meanwhile.
    /// </summary>
    public void DrainPending() => Flush(FlushReason.Detach);
}
