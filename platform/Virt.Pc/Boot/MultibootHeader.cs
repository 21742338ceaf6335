using System.Buffers.Binary;

namespace Virt.Pc.Boot;

/// <summary>
/// The Multiboot v1 header a kernel carries in its first 8 KiB: magic, flags, checksum, and, when
/// flag bit 16 is set, the a.out-kludge address fields that say where to load a non-ELF image.
/// </summary>
public sealed record MultibootHeader(
    int FileOffset,
    uint Flags,
    uint HeaderAddress,
    uint LoadAddress,
    uint LoadEndAddress,
    uint BssEndAddress,
    uint EntryAddress)
{
    public const uint Magic = 0x1BAD_B002;

    /// <summary>The spec only looks this far into the file.</summary>
    public const int SearchLength = 8192;

    public const uint FlagPageAlignModules = 1u << 0, FlagMemoryInfo = 1u << 1, FlagVideoMode = 1u << 2, FlagAoutKludge = 1u << 16;

    public bool AoutKludge => (Flags & FlagAoutKludge) != 0;

    /// <summary>Finds and checks the header. Throws <see cref="InvalidDataException"/> when there is none or it is damaged.</summary>
    public static MultibootHeader Find(ReadOnlySpan<byte> file)
    {
        int limit = Math.Min(file.Length, SearchLength);
        for (int off = 0; off + 12 <= limit; off += 4) // the header is 32-bit aligned
        {
            if (U32(file, off) != Magic) continue;
            uint flags = U32(file, off + 4), checksum = U32(file, off + 8);
            if (unchecked(Magic + flags + checksum) != 0)
                throw new InvalidDataException(
                    $"Multiboot header at file offset 0x{off:X} has a bad checksum: magic + flags (0x{flags:X8}) + checksum (0x{checksum:X8}) = 0x{unchecked(Magic + flags + checksum):X8}, must be 0");
            if ((flags & FlagAoutKludge) == 0) return new MultibootHeader(off, flags, 0, 0, 0, 0, 0);
            if (off + 32 > file.Length)
                throw new InvalidDataException($"truncated file: the Multiboot header at 0x{off:X} sets flag bit 16 but its address fields run past the end of the file");
            return new MultibootHeader(off, flags, U32(file, off + 12), U32(file, off + 16), U32(file, off + 20), U32(file, off + 24), U32(file, off + 28));
        }
        throw new InvalidDataException($"no Multiboot header (magic 0x{Magic:X8}, 32-bit aligned) in the first {SearchLength} bytes of the kernel ({file.Length} bytes)");
    }

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at, 4));
}
