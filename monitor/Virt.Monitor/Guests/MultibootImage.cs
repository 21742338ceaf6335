using System.Buffers.Binary;
using Iced.Intel;

namespace Virt.Monitor.Guests;

/// <summary>
/// Wraps 32-bit code assembled with Iced into a minimal Multiboot ELF (one PT_LOAD segment that
/// holds the headers, the Multiboot header and the code), the image format of `virt run --kernel`.
/// Used by the bundled demo and by the integration tests' guests.
/// </summary>
public static class MultibootImage
{
    public const uint DefaultLoadAddress = 0x10_0000;
    public const int CodeOffset = 0x70;
    private const uint MultibootMagic = 0x1BAD_B002, MultibootFlags = 0x3;

    /// <summary>The address the code starts at (its assembler origin) for a given load address.</summary>
    public static uint EntryFor(uint loadAddress = DefaultLoadAddress) => loadAddress + CodeOffset;

    /// <summary>Assembles <paramref name="asm"/> at <see cref="EntryFor"/> and returns the ELF file.</summary>
    public static byte[] Build(Assembler asm, uint loadAddress = DefaultLoadAddress)
    {
        var code = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(code), EntryFor(loadAddress));
        return Wrap(code.ToArray(), loadAddress);
    }

    public static byte[] Wrap(ReadOnlySpan<byte> code, uint loadAddress = DefaultLoadAddress)
    {
        byte[] f = new byte[CodeOffset + code.Length];
        Span<byte> s = f;
        // ELF32 header.
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 1; s[5] = 1; s[6] = 1;                                    // 32-bit, little-endian, version 1
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);            // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 3);            // EM_386
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], loadAddress + CodeOffset); // e_entry
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 52);           // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[40..], 52);           // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[42..], 32);           // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[44..], 1);            // e_phnum
        BinaryPrimitives.WriteUInt16LittleEndian(s[46..], 40);           // e_shentsize
        // Program header: PT_LOAD of the whole file at loadAddress.
        Span<byte> ph = s[52..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], loadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], loadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)f.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)f.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[24..], 7);
        BinaryPrimitives.WriteUInt32LittleEndian(ph[28..], 0x1000);
        // Multiboot header at 0x60 (4-aligned, in the first 8 KiB).
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x60..], MultibootMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x64..], MultibootFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x68..], unchecked(0u - MultibootMagic - MultibootFlags));
        code.CopyTo(s[CodeOffset..]);
        return f;
    }
}
