using Virt.Shared.Routing;

namespace Virt.Devices.Bus;

/// <summary>
/// A half-open range [Start, Start + Length) of ports or guest-physical MMIO addresses, as a device
/// declares it: the space is the ABI's <see cref="AddressSpace"/> (the numbers a Claim carries), so a
/// device's range, a claim and a routing table's entry (<see cref="AddressMap{T}"/>) speak of one thing.
/// </summary>
public readonly record struct BusRange(AddressSpace Space, ulong Start, ulong Length)
{
    public static BusRange Ports(ushort start, ushort count) => new(AddressSpace.Port, start, count);
    public static BusRange Mmio(ulong start, ulong length) => new(AddressSpace.Mmio, start, length);

    public ulong End => Start + Length;

    public bool Contains(ulong address) => address - Start < Length;

    public bool Overlaps(BusRange other) => Space == other.Space && Start < other.End && other.Start < End;

    public override string ToString() => Space == AddressSpace.Port
        ? $"ports 0x{Start:X}-0x{End - 1:X}"
        : $"mmio 0x{Start:X}-0x{End - 1:X}";
}
