using System.Buffers.Binary;

namespace Virt.Pc.Boot;

/// <summary>
/// The little a boot loader needs from an ELF32 executable: its entry point and PT_LOAD segments.
/// Validates what it reads so a truncated or foreign file fails with a message that names the field,
/// instead of loading garbage.
/// </summary>
public sealed class Elf32Image
{
    private const uint PtLoad = 1;

    public readonly record struct Segment(uint FileOffset, uint VirtualAddress, uint PhysicalAddress, uint FileSize, uint MemorySize);

    private Elf32Image(uint entry, IReadOnlyList<Segment> segments)
    {
        Entry = entry;
        Segments = segments;
    }

    /// <summary>e_entry as written in the file (a virtual address).</summary>
    public uint Entry { get; }

    /// <summary>The PT_LOAD segments, in file order.</summary>
    public IReadOnlyList<Segment> Segments { get; }

    public static bool HasElfMagic(ReadOnlySpan<byte> file) =>
        file.Length >= 4 && file[0] == 0x7F && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    public static Elf32Image Parse(ReadOnlySpan<byte> file)
    {
        if (!HasElfMagic(file)) throw new InvalidDataException("not an ELF file (no \\x7FELF magic)");
        if (file.Length < 52) throw new InvalidDataException($"truncated ELF file: {file.Length} bytes, the ELF32 header alone is 52");
        if (file[4] == 2) throw new InvalidDataException("64-bit ELF (ELFCLASS64) cannot be loaded as a Multiboot v1 kernel: build it for i386 (ELFCLASS32)");
        if (file[4] != 1) throw new InvalidDataException($"unknown ELF class {file[4]}");
        if (file[5] != 1) throw new InvalidDataException("big-endian ELF: an i386 kernel must be little-endian (ELFDATA2LSB)");
        ushort type = U16(file, 16), machine = U16(file, 18);
        if (type != 2) throw new InvalidDataException($"ELF type {type} is not an executable (ET_EXEC = 2)");
        if (machine != 3) throw new InvalidDataException($"ELF machine {machine} is not i386 (EM_386 = 3)");
        uint entry = U32(file, 24), phoff = U32(file, 28);
        ushort phentsize = U16(file, 42), phnum = U16(file, 44);
        if (phnum == 0) throw new InvalidDataException("ELF file has no program headers");
        if (phentsize < 32) throw new InvalidDataException($"ELF program header size {phentsize} is smaller than the 32 bytes of Elf32_Phdr");
        if ((ulong)phoff + (ulong)phentsize * phnum > (ulong)file.Length)
            throw new InvalidDataException($"truncated ELF file: program headers at 0x{phoff:X} ({phnum} x {phentsize} bytes) run past its end ({file.Length} bytes)");

        var segments = new List<Segment>();
        for (int i = 0; i < phnum; i++)
        {
            int p = (int)phoff + i * phentsize;
            if (U32(file, p) != PtLoad) continue;
            var s = new Segment(U32(file, p + 4), U32(file, p + 8), U32(file, p + 12), U32(file, p + 16), U32(file, p + 20));
            if (s.FileSize > s.MemorySize)
                throw new InvalidDataException($"ELF segment {i}: file size 0x{s.FileSize:X} exceeds memory size 0x{s.MemorySize:X}");
            if ((ulong)s.FileOffset + s.FileSize > (ulong)file.Length)
                throw new InvalidDataException($"truncated ELF file: segment {i} needs bytes 0x{s.FileOffset:X}-0x{(ulong)s.FileOffset + s.FileSize:X}, the file has 0x{file.Length:X}");
            if (s.MemorySize != 0) segments.Add(s);
        }
        if (segments.Count == 0) throw new InvalidDataException("ELF file has no PT_LOAD segment with contents");
        return new Elf32Image(entry, segments);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(at, 2));

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at, 4));
}
