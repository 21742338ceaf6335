using System.Buffers.Binary;

namespace Virt.Cpu.Tests.Guests;

/// <summary>
/// Hand-built Multiboot kernels for the loader's unit tests: an ELF32 executable with chosen
/// PT_LOAD segments, and a raw image loaded through the a.out kludge. Each builder returns bytes
/// the test can then damage in one precise place.
/// </summary>
internal static class MultibootImages
{
    public const uint Magic = 0x1BAD_B002;

    public sealed record Segment(uint PhysicalAddress, uint VirtualAddress, byte[] Data, uint MemorySize);

    /// <summary>ELF header (52 bytes), program headers, the Multiboot header, then segment data.</summary>
    public static byte[] Elf(uint entry, uint mbFlags, params Segment[] segments)
    {
        int phoff = 52, mbOff = phoff + 32 * segments.Length;
        int dataOff = mbOff + 48;
        var file = new byte[dataOff + segments.Sum(s => s.Data.Length)];
        file[0] = 0x7F; file[1] = (byte)'E'; file[2] = (byte)'L'; file[3] = (byte)'F';
        file[4] = 1; // ELFCLASS32
        file[5] = 1; // little-endian
        file[6] = 1; // EV_CURRENT
        Put16(file, 16, 2);  // ET_EXEC
        Put16(file, 18, 3);  // EM_386
        Put32(file, 20, 1);
        Put32(file, 24, entry);
        Put32(file, 28, (uint)phoff);
        Put16(file, 40, 52);
        Put16(file, 42, 32);
        Put16(file, 44, (ushort)segments.Length);
        int at = dataOff;
        for (int i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            int p = phoff + 32 * i;
            Put32(file, p, 1); // PT_LOAD
            Put32(file, p + 4, (uint)at);
            Put32(file, p + 8, s.VirtualAddress);
            Put32(file, p + 12, s.PhysicalAddress);
            Put32(file, p + 16, (uint)s.Data.Length);
            Put32(file, p + 20, s.MemorySize);
            Put32(file, p + 24, 7);
            s.Data.CopyTo(file, at);
            at += s.Data.Length;
        }
        WriteHeader(file, mbOff, mbFlags);
        return file;
    }

    /// <summary>Offset of the Multiboot header in an <see cref="Elf"/> image.</summary>
    public static int ElfHeaderOffset(int segmentCount) => 52 + 32 * segmentCount;

    /// <summary>
    /// A raw image for the a.out kludge: 16 bytes of padding, the header (at load + 0x10), padding to
    /// 0x40, then code (entry = load + 0x40). loadEnd/bssEnd of 0 mean "end of file" and "no bss".
    /// </summary>
    public static byte[] Aout(uint load, byte[] code, uint loadEnd, uint bssEnd, uint extraFlags = 0)
    {
        var file = new byte[0x40 + code.Length];
        WriteHeader(file, 0x10, (1u << 16) | extraFlags);
        Put32(file, 0x10 + 12, load + 0x10); // header_addr
        Put32(file, 0x10 + 16, load);        // load_addr
        Put32(file, 0x10 + 20, loadEnd);
        Put32(file, 0x10 + 24, bssEnd);
        Put32(file, 0x10 + 28, load + 0x40); // entry_addr
        code.CopyTo(file, 0x40);
        return file;
    }

    public static void WriteHeader(byte[] file, int at, uint flags)
    {
        Put32(file, at, Magic);
        Put32(file, at + 4, flags);
        Put32(file, at + 8, unchecked(0u - Magic - flags));
    }

    public static void Put16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);

    public static void Put32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
}
