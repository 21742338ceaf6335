namespace Virt.Monitor.Exits;

public sealed unsafe partial class DeviceModelPort
{
    /// <summary>
    /// Completes every batched write of this device model still pending, in order, before it is
    /// detached or swapped. Placeholder until the OUT batch ring lands (another branch owns it):
    /// today every write is synchronous, so nothing is ever pending.
    /// </summary>
    public void DrainPending()
    {
    }
}
