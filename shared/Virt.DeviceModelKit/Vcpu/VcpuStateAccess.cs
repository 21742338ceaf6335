using Virt.Shared.Abi;

namespace Virt.DeviceModelKit.Vcpu;

/// <summary>
/// libnvmm's getstate/setstate over one VCPU's comm page, for the code that serves an exit.
/// GetState is free when the monitor cached the areas (speculatively, or after an earlier
/// NeedState round); otherwise it asks for them and the exit is served again once they are there,
/// so a caller must call it before any side effect. SetState writes the areas into the page and
/// marks them to commit: free when the commit rides on the completion (CommitOnCompletion),
/// else one round trip of its own (`--state naive`, setstate as an ioctl).
/// </summary>
public sealed class VcpuStateAccess(bool commitOnCompletion)
{
    public bool CommitOnCompletion => commitOnCompletion;

    /// <summary>True when the areas are in the page. False: they are requested; return NeedState and do nothing else.</summary>
    public bool TryGet(ref CommPage page, StateBits areas)
    {
        if (((StateBits)page.Header.StateCached & areas) == areas)
        {
            page.DeviceCounters.StateFromPage++;
            return true;
        }
        page.Header.StateWanted |= (uint)(areas & ~(StateBits)page.Header.StateCached);
        page.DeviceCounters.StateRoundTrips++;
        return false;
    }

    /// <summary>Marks areas the caller has written into the page for commit.</summary>
    public void Set(ref CommPage page, StateBits areas) => page.Header.StateCommit |= (uint)areas;
}
