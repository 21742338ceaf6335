using Virt.Pc.Board;

namespace Virt.Pc.Boot;

/// <summary>
/// Maps a firmware ROM (a BIOS image) where a PC's chipset decodes it: at the top of 4 GiB, and its
/// last 128 KiB aliased below 1 MiB (0xE0000-0xFFFFF), then resets the CPU so it starts at
/// F000:FFF0 with CS base FFFF0000 — the first fetch is at 0xFFFFFFF0, as on real hardware.
/// </summary>
public static class RomLoader
{
    public const int MaxRomSize = 16 << 20;
    private const int LowAliasSize = 128 << 10;

    /// <summary>Why an image of this size cannot be a BIOS ROM, or null when it can.</summary>
    public static string? Check(long length) =>
        length < 4096 || length > MaxRomSize || (length & 0xFFF) != 0
            ? $"a BIOS image must be a multiple of 4 KiB between 4 KiB and 16 MiB (got {length} bytes)"
            : null;

    public static void LoadBios(Cpu.Cpu cpu, ReadOnlySpan<byte> image)
    {
        if (Check(image.Length) is { } why) throw new ArgumentException(why, nameof(image));
        cpu.Memory.MapRom((uint)(PcMemoryMap.AddressSpaceEnd - (ulong)image.Length), image);
        int low = Math.Min(image.Length, LowAliasSize);
        cpu.Memory.MapRom((uint)(PcMemoryMap.HighMemoryStart - low), image[^low..]);
        cpu.Reset();
    }
}
