namespace Virt.Shared.Routing;

/// <summary>The address space of a claim or a batched write, with the numbers the ABI carries (Claim.Space, OutRingSlot.Space).</summary>
public enum AddressSpace : byte
{
    Port = 0,
    Mmio = 1,
}
