using Virt.Devices.Bus;

namespace Virt.Devices.Debug;

// Access policy: POST codes (and Linux's outb-to-0x80 I/O delay) only record a byte, so writes are
// batched. Reads return the last code and stay synchronous: a read must see every earlier write.
public sealed partial class PostCodePort : IAccessPolicies
{
    public IReadOnlyList<RangePolicy> Policies => [new(_ranges[0], AccessPolicy.BatchedWrites)];
}
