using Virt.Shared.Abi;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// Sees each completion just before the exit server rings the monitor: the page holds the status
/// and data the handler produced. For tracing, and for test models that misbehave on purpose
/// (the monitor must refuse whatever a device model writes into its page).
/// </summary>
public interface ICompletionObserver
{
    void BeforeComplete(ref CommPage page, Doorbell toMonitor, uint seq);
}
