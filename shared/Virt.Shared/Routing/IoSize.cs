namespace Virt.Shared.Routing;

/// <summary>
/// Access sizes of port and MMIO accesses (1, 2, 4 or 8 bytes). What a floating bus returns, and
/// the mask that keeps only the bytes an access carries, are both "all ones for this size".
/// </summary>
public static class IoSize
{
    /// <summary>All ones in the low <paramref name="size"/> bytes: 0xFF, 0xFFFF, 0xFFFFFFFF or all 64 bits (size 8 or more).</summary>
    public static ulong AllOnes(int size) => size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;

    /// <summary><see cref="AllOnes"/> for a port access (at most 4 bytes): 0xFF, 0xFFFF or 0xFFFFFFFF.</summary>
    public static uint AllOnes32(int size) => size >= 4 ? uint.MaxValue : (1u << (8 * size)) - 1;
}
