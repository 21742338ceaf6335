namespace Virt.Devices.Bus;

/// <summary>Which address space a <see cref="BusRange"/> lives in.</summary>
public enum BusSpace : byte
{
    Port = 0,
    Mmio = 1,
}

/// <summary>A half-open range [Start, Start + Length) of ports or guest-physical MMIO addresses.</summary>
public readonly record struct BusRange(BusSpace Space, ulong Start, ulong Length)
{
    public static BusRange Ports(ushort start, ushort count) => new(BusSpace.Port, start, count);
    public static BusRange Mmio(ulong start, ulong length) => new(BusSpace.Mmio, start, length);

    public ulong End => Start + Length;

    public bool Contains(ulong address) => address - Start < Length;

    public bool Overlaps(BusRange other) => Space == other.Space && Start < other.End && other.Start < End;

    public override string ToString() => Space == BusSpace.Port
        ? $"ports 0x{Start:X}-0x{End - 1:X}"
        : $"mmio 0x{Start:X}-0x{End - 1:X}";
}
