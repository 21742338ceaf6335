using Virt.Devices.Bus;

namespace Virt.Devices.Debug;

// Access policy: the debug console is output only and nothing the guest reads depends on it, so
// its writes are batched; the host's latency timer bounds how long a byte waits.
public sealed partial class DebugConsolePort : IAccessPolicies
{
    public IReadOnlyList<RangePolicy> Policies => [new(_ranges[0], AccessPolicy.BatchedWrites)];
}
