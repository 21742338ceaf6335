namespace Virt.Shared.Routing;

/// <summary>A half-open range [Start, Start + Length) of ports or guest-physical addresses, with what owns it.</summary>
public readonly record struct AddressRange<T>(ulong Start, ulong Length, T Owner)
{
    /// <summary>One past the last address (saturates at the top of the 64-bit space).</summary>
    public ulong End => ulong.MaxValue - Start < Length ? ulong.MaxValue : Start + Length;

    public bool Contains(ulong address) => address - Start < Length;
}
