namespace Virt.Cpu.Boot;

/// <summary>
/// Maps a firmware ROM (a BIOS image) where a PC's chipset decodes it: at the top of 4 GiB, and its
/// last 128 KiB aliased below 1 MiB (0xE0000-0xFFFFF), then resets the CPU so it starts at
/// F000:FFF0 with CS base FFFF0000 — the first fetch is at 0xFFFFFFF0, as on real hardware.
/// </summary>
public static class RomLoader
{
    public const int MaxRomSize = 16 << 20;
    private const int LowAliasSize = 128 << 10;

    public static void LoadBios(Cpu cpu, ReadOnlySpan<byte> image)
    {
        if (image.Length < 4096 || image.Length > MaxRomSize || (image.Length & 0xFFF) != 0)
            throw new ArgumentException($"a BIOS image must be a multiple of 4 KiB between 4 KiB and 16 MiB (got {image.Length} bytes)", nameof(image));
        cpu.Memory.MapRom((uint)(0x1_0000_0000L - image.Length), image);
        int low = Math.Min(image.Length, LowAliasSize);
        cpu.Memory.MapRom((uint)(0x10_0000 - low), image[^low..]);
        cpu.Reset();
    }
}
