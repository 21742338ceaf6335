using System.Buffers.Binary;
using System.Text;
using Virt.Cpu.Boot;

namespace Virt.Monitor.Boot;

/// <summary>A module for the Multiboot loader (QEMU's -initrd entries).</summary>
public sealed record BootModuleImage(string Name, byte[] Data);

/// <summary>
/// Loads a Multiboot (v1) ELF32 kernel as QEMU's -kernel does: PT_LOAD segments at their physical
/// addresses, modules page-aligned after the kernel, a Multiboot information structure with the
/// memory size, command line and modules, then 32-bit flat protected mode at the ELF entry with
/// EAX = 0x2BADB002 and EBX = the information structure. Every header field is checked first so a
/// bad image is a clear error, not a guest crash. (The monitor's own loader until Virt.Cpu's
/// MultibootLoader is available.)
/// </summary>
public static class MultibootElfLoader
{
    private const uint HeaderMagic = 0x1BAD_B002, BootMagic = 0x2BAD_B002;
    private const uint InfoAddress = 0x9000, InfoStrings = 0x9400, InfoEnd = 0xA000;

    /// <summary>Checks the image; returns why it cannot be loaded, or null.</summary>
    public static string? Validate(ReadOnlySpan<byte> f, long ramSize)
    {
        if (f.Length < 52 || f[0] != 0x7F || f[1] != 'E' || f[2] != 'L' || f[3] != 'F') return "not an ELF file";
        if (f[4] != 1) return "not a 32-bit ELF (a 64-bit kernel cannot boot through Multiboot v1)";
        if (f[5] != 1) return "not a little-endian ELF";
        if (BinaryPrimitives.ReadUInt16LittleEndian(f[18..]) != 3) return "not an i386 ELF (e_machine is not EM_386)";
        if (FindHeader(f) < 0) return "no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB";
        uint phoff = BinaryPrimitives.ReadUInt32LittleEndian(f[28..]);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(f[42..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f[44..]);
        if (phentsize < 32 || (ulong)phoff + (ulong)phnum * (ulong)phentsize > (ulong)f.Length) return "program headers lie outside the file";
        int loads = 0;
        for (int i = 0; i < phnum; i++)
        {
            var ph = f.Slice((int)phoff + i * phentsize, 32);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1) continue;
            loads++;
            uint off = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
            uint paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
            uint filesz = BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
            uint memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            if ((ulong)off + filesz > (ulong)f.Length) return $"segment {i} lies outside the file";
            if (filesz > memsz) return $"segment {i} has filesz > memsz";
            if (paddr < 0x10_0000 && paddr < InfoEnd) return $"segment {i} at 0x{paddr:X} overlaps the low memory the loader uses";
            if ((ulong)paddr + memsz > (ulong)ramSize) return $"segment {i} (0x{paddr:X}+0x{memsz:X}) does not fit in {ramSize >> 20} MiB of RAM";
        }
        return loads == 0 ? "no PT_LOAD segment" : null;
    }

    private static int FindHeader(ReadOnlySpan<byte> f)
    {
        for (int o = 0; o + 12 <= Math.Min(f.Length, 8192); o += 4)
        {
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(f[o..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(f[(o + 4)..]);
            uint sum = BinaryPrimitives.ReadUInt32LittleEndian(f[(o + 8)..]);
            if (magic == HeaderMagic && unchecked(magic + flags + sum) == 0) return o;
        }
        return -1;
    }

    public static void Load(Cpu.Cpu cpu, ReadOnlySpan<byte> f, string commandLine, IReadOnlyList<BootModuleImage> modules)
    {
        long ramSize = cpu.Memory.Ram.Size;
        if (Validate(f, ramSize) is { } error) throw new InvalidDataException(error);
        uint phoff = BinaryPrimitives.ReadUInt32LittleEndian(f[28..]);
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(f[42..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(f[44..]);
        uint end = 0;
        for (int i = 0; i < phnum; i++)
        {
            var ph = f.Slice((int)phoff + i * phentsize, 32);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1) continue;
            uint off = BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]);
            uint paddr = BinaryPrimitives.ReadUInt32LittleEndian(ph[12..]);
            uint filesz = BinaryPrimitives.ReadUInt32LittleEndian(ph[16..]);
            uint memsz = BinaryPrimitives.ReadUInt32LittleEndian(ph[20..]);
            cpu.Memory.Load(paddr, f.Slice((int)off, (int)filesz));
            if (memsz > filesz) cpu.Memory.Load(paddr + filesz, new byte[memsz - filesz]);
            end = Math.Max(end, paddr + memsz);
        }

        // Modules, page-aligned after the kernel; their table and strings in low memory.
        uint next = (end + 0xFFF) & ~0xFFFu;
        uint strings = InfoStrings;
        uint WriteString(string s)
        {
            byte[] b = Encoding.UTF8.GetBytes(s + "\0");
            if (strings + b.Length > InfoEnd) throw new InvalidDataException("command line and module names too long");
            cpu.Memory.Load(strings, b);
            uint at = strings;
            strings += (uint)b.Length;
            return at;
        }
        uint modsAddr = InfoAddress + 0x100;
        for (int i = 0; i < modules.Count; i++)
        {
            byte[] data = modules[i].Data;
            if ((ulong)next + (ulong)data.Length > (ulong)ramSize) throw new InvalidDataException($"module {modules[i].Name} does not fit in RAM");
            cpu.Memory.Load(next, data);
            var entry = new byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(entry, next);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4), next + (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), WriteString(modules[i].Name));
            cpu.Memory.Load(modsAddr + (uint)i * 16, entry);
            next = (next + (uint)data.Length + 0xFFF) & ~0xFFFu;
        }

        var info = new byte[52];
        // flags: mem_lower/upper (0), cmdline (2), mods (3).
        BinaryPrimitives.WriteUInt32LittleEndian(info, 1u | 4u | 8u);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(4), 640);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(8), (uint)((ramSize - 0x10_0000) / 1024));
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(16), WriteString(commandLine));
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(20), (uint)modules.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(24), modsAddr);
        cpu.Memory.Load(InfoAddress, info);

        FlatLoader.EnterFlat32(cpu, BinaryPrimitives.ReadUInt32LittleEndian(f[24..]));
        cpu.State.Eax = BootMagic;
        cpu.State.Ebx = InfoAddress;
    }
}
