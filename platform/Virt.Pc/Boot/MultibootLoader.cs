using System.Buffers.Binary;
using System.Text;
using Virt.Cpu.Memory;
using Virt.Cpu.State;
using Virt.Pc.Board;

namespace Virt.Pc.Boot;

/// <summary>
/// Loads a Multiboot v1 kernel the way QEMU's -kernel/-initrd/-append do, builds the Multiboot
/// information structure in guest memory and leaves the CPU at the kernel's entry in the state the
/// specification promises (EAX = 0x2BADB002, EBX = info address, flat 32-bit protected mode,
/// A20 on, paging off, IF clear). Layout: kernel where its header or ELF program headers say,
/// modules page aligned after the kernel's end (bss included), and the info structure with its
/// memory map, module table and strings at 0x9000 in low memory, as QEMU puts it, unless the kernel
/// or a module is there (kvm-unit-tests' flat images are linked at 0x8000): then at the first free
/// page after the kernel and modules, so the loader never overwrites what it loaded.
/// </summary>
public static class MultibootLoader
{
    public const uint BootloaderMagic = 0x2BAD_B002;
    /// <summary>Where the information area goes when nothing was loaded there (QEMU's MULTIBOOT_STRUCT_ADDR).</summary>
    public const uint InfoAddress = 0x9000;
    public const string BootloaderName = "Virt";

    // Low memory ends where the EBDA would start; the info area must stay below it.
    private const uint InfoAreaEnd = PcMemoryMap.ExtendedBiosDataArea;
    private const uint LowMemoryEnd = PcMemoryMap.BaseMemoryEnd, HighMemoryStart = PcMemoryMap.HighMemoryStart;
    private const int InfoStructSize = 116; // through the framebuffer fields, zeroed

    // Header flags this loader honours: page-aligned modules (always done), memory info (always given),
    // and the a.out kludge. Bits 0-15 it does not know must make it refuse the kernel (spec 3.1.2).
    private const uint HonouredRequiredFlags = MultibootHeader.FlagPageAlignModules | MultibootHeader.FlagMemoryInfo;

    /// <summary>The IDTR limit a Multiboot kernel finds: the BIOS's real-mode vector table, 256 four-byte vectors.</summary>
    public const ushort RealModeIdtLimit = 0x3FF;

    // Multiboot info flags.
    private const uint InfoMemory = 1u << 0, InfoCmdline = 1u << 2, InfoMods = 1u << 3, InfoMmap = 1u << 6, InfoLoaderName = 1u << 9;

    public static MultibootBoot Load(Cpu.Cpu cpu, ReadOnlySpan<byte> kernelFile, string commandLine, IReadOnlyList<BootModule> modules)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(modules);
        var header = MultibootHeader.Find(kernelFile);
        CheckFlags(header.Flags);

        PhysicalMemory mem = cpu.Memory;
        var (entry, start, end) = header.AoutKludge ? LoadAout(mem, kernelFile, header) : LoadElf(mem, kernelFile);

        var loaded = new List<LoadedModule>(modules.Count);
        uint cursor = PageAlign(end);
        foreach (var m in modules)
        {
            ulong mEnd = (ulong)cursor + (ulong)m.Data.Length;
            CheckRam(mem, cursor, mEnd, $"module '{m.Name}'");
            mem.Load(cursor, m.Data);
            loaded.Add(new LoadedModule(m.Name, cursor, (uint)mEnd));
            cursor = PageAlign((uint)mEnd);
        }

        var occupied = new List<(uint Start, uint End)> { (start, end) };
        foreach (var m in loaded) occupied.Add((m.Start, m.End));
        uint info = WriteInfo(mem, commandLine, loaded, occupied);

        mem.A20Enabled = true;
        FlatLoader.EnterFlat32(cpu, entry); // PE on, PG off, flat CS/DS/ES/FS/GS/SS, EFLAGS = 2 (IF clear)
        var s = cpu.State;
        s.Cr4 = 0;
        // The specification leaves IDTR undefined; QEMU's -kernel boots through the BIOS, which leaves the
        // real-mode vector table's (base 0, limit 0x3FF). Kernels that drop back to real mode rely on it
        // without loading an IDTR of their own (kvm-unit-tests' realmode.flat runs INT 0x11 through it).
        s.Idtr = new DescriptorTableRegister { Base = 0, Limit = RealModeIdtLimit };
        s.Eax = BootloaderMagic;
        s.Ebx = info;
        return new MultibootBoot(entry, info, start, end, header.AoutKludge, loaded);
    }

    private static void CheckFlags(uint flags)
    {
        if ((flags & MultibootHeader.FlagVideoMode) != 0)
            throw new NotSupportedException("the kernel requests a video mode (Multiboot header flag bit 2): this loader has no framebuffer to offer");
        uint unknown = flags & 0xFFFF & ~HonouredRequiredFlags;
        if (unknown != 0)
            throw new NotSupportedException($"the Multiboot header sets required flag bits 0x{unknown:X4} this loader does not understand (it knows bits 0, 1, 2 and 16)");
    }

    private static (uint Entry, uint Start, uint End) LoadAout(PhysicalMemory mem, ReadOnlySpan<byte> file, MultibootHeader h)
    {
        if (h.LoadAddress > h.HeaderAddress)
            throw new InvalidDataException($"a.out kludge: load_addr 0x{h.LoadAddress:X8} is above header_addr 0x{h.HeaderAddress:X8}");
        uint headerDelta = h.HeaderAddress - h.LoadAddress;
        if (headerDelta > (uint)h.FileOffset)
            throw new InvalidDataException($"a.out kludge: header_addr - load_addr = 0x{headerDelta:X} but the header is only 0x{h.FileOffset:X} bytes into the file");
        int fileStart = h.FileOffset - (int)headerDelta;
        ulong loadEnd = h.LoadEndAddress == 0 ? h.LoadAddress + (ulong)(file.Length - fileStart) : h.LoadEndAddress;
        if (loadEnd < h.LoadAddress)
            throw new InvalidDataException($"a.out kludge: load_end_addr 0x{h.LoadEndAddress:X8} is below load_addr 0x{h.LoadAddress:X8}");
        ulong length = loadEnd - h.LoadAddress;
        if ((ulong)fileStart + length > (ulong)file.Length)
            throw new InvalidDataException($"truncated file: the a.out kludge asks for 0x{length:X} bytes from file offset 0x{fileStart:X}, the file has 0x{file.Length:X}");
        ulong bssEnd = h.BssEndAddress == 0 ? loadEnd : h.BssEndAddress;
        if (bssEnd < loadEnd)
            throw new InvalidDataException($"a.out kludge: bss_end_addr 0x{h.BssEndAddress:X8} is below the end of the loaded image 0x{loadEnd:X8}");
        if (h.EntryAddress < h.LoadAddress || h.EntryAddress >= loadEnd)
            throw new InvalidDataException($"a.out kludge: entry_addr 0x{h.EntryAddress:X8} is outside the loaded image 0x{h.LoadAddress:X8}-0x{loadEnd:X8}");

        CheckRam(mem, h.LoadAddress, bssEnd, "the kernel image (a.out kludge)");
        mem.Load(h.LoadAddress, file.Slice(fileStart, (int)length));
        Zero(mem, (uint)loadEnd, (uint)(bssEnd - loadEnd));
        return (h.EntryAddress, h.LoadAddress, (uint)bssEnd);
    }

    private static (uint Entry, uint Start, uint End) LoadElf(PhysicalMemory mem, ReadOnlySpan<byte> file)
    {
        if (!Elf32Image.HasElfMagic(file))
            throw new InvalidDataException("the kernel is not ELF and its Multiboot header does not set flag bit 16 (a.out kludge): there is no way to know where to load it");
        var elf = Elf32Image.Parse(file);
        uint start = uint.MaxValue, end = 0;
        uint? entry = null;
        foreach (var seg in elf.Segments)
        {
            ulong segEnd = (ulong)seg.PhysicalAddress + seg.MemorySize;
            CheckRam(mem, seg.PhysicalAddress, segEnd, $"ELF segment at 0x{seg.PhysicalAddress:X8}");
            mem.Load(seg.PhysicalAddress, file.Slice((int)seg.FileOffset, (int)seg.FileSize));
            Zero(mem, seg.PhysicalAddress + seg.FileSize, seg.MemorySize - seg.FileSize); // bss
            start = Math.Min(start, seg.PhysicalAddress);
            end = Math.Max(end, (uint)segEnd);
            // Paging is off at entry: a kernel linked high (vaddr != paddr) enters at the physical alias.
            if (elf.Entry >= seg.VirtualAddress && elf.Entry - seg.VirtualAddress < seg.MemorySize)
                entry ??= seg.PhysicalAddress + (elf.Entry - seg.VirtualAddress);
        }
        return (entry ?? throw new InvalidDataException($"ELF entry point 0x{elf.Entry:X8} is in no PT_LOAD segment"), start, end);
    }

    /// <summary>Builds the information area where it collides with nothing loaded; returns its address.</summary>
    private static uint WriteInfo(PhysicalMemory mem, string commandLine, List<LoadedModule> modules, List<(uint Start, uint End)> occupied)
    {
        ulong ramEnd = (ulong)mem.Ram.Size;
        var mmap = new List<(ulong Base, ulong Length, uint Type)>();
        mmap.Add((0, Math.Min(ramEnd, LowMemoryEnd), 1));
        if (ramEnd > LowMemoryEnd) mmap.Add((LowMemoryEnd, HighMemoryStart - LowMemoryEnd, 2)); // VGA, option ROMs, BIOS
        if (ramEnd > HighMemoryStart) mmap.Add((HighMemoryStart, ramEnd - HighMemoryStart, 1));

        // Lay out: info struct, memory map, module table, then strings; offsets first, since the
        // area's address depends on its size.
        uint mmapOffset = InfoStructSize;
        uint modsOffset = mmapOffset + (uint)(mmap.Count * 24);
        uint stringsOffset = modsOffset + (uint)(modules.Count * 16);
        var strings = new List<byte>();
        uint AddString(string s)
        {
            uint at = stringsOffset + (uint)strings.Count;
            strings.AddRange(Encoding.UTF8.GetBytes(s));
            strings.Add(0);
            return at;
        }
        uint cmdline = AddString(commandLine);
        uint loaderName = AddString(BootloaderName);
        var modNames = modules.Select(m => AddString(m.Name)).ToList();
        ulong size = (ulong)stringsOffset + (ulong)strings.Count;
        uint at = PlaceInfo(mem, size, occupied);

        var area = new List<byte>();
        var info = new byte[InfoStructSize];
        uint memUpper = ramEnd > HighMemoryStart ? (uint)((Math.Min(ramEnd, PcMemoryMap.AddressSpaceEnd) - HighMemoryStart) / 1024) : 0;
        Put(info, 0, InfoMemory | InfoCmdline | InfoMods | InfoMmap | InfoLoaderName);
        Put(info, 4, (uint)(Math.Min(ramEnd, LowMemoryEnd) / 1024));
        Put(info, 8, memUpper);
        Put(info, 16, at + cmdline);
        Put(info, 20, (uint)modules.Count);
        Put(info, 24, at + modsOffset);
        Put(info, 44, (uint)(mmap.Count * 24));
        Put(info, 48, at + mmapOffset);
        Put(info, 64, at + loaderName);
        area.AddRange(info);

        foreach (var (b, len, type) in mmap)
        {
            var e = new byte[24];
            Put(e, 0, 20); // size of the entry, not counting this field
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(4), b);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(12), len);
            Put(e, 20, type);
            area.AddRange(e);
        }
        for (int i = 0; i < modules.Count; i++)
        {
            var e = new byte[16];
            Put(e, 0, modules[i].Start);
            Put(e, 4, modules[i].End);
            Put(e, 8, at + modNames[i]);
            area.AddRange(e);
        }
        area.AddRange(strings);
        mem.Load(at, area.ToArray());
        return at;
    }

    /// <summary>
    /// The first place for <paramref name="size"/> bytes of information that is all RAM and overlaps
    /// no loaded range: 0x9000 as QEMU, else the page after the end of each loaded range in turn.
    /// In low memory the area stays below the EBDA (0x9FC00), which the firmware state owns.
    /// </summary>
    private static uint PlaceInfo(PhysicalMemory mem, ulong size, List<(uint Start, uint End)> occupied)
    {
        var candidates = new List<ulong> { InfoAddress };
        candidates.AddRange(occupied.Select(r => (ulong)PageAlign(r.End)).Order());
        candidates.Add(HighMemoryStart); // a kernel ending in the VGA hole leaves room above 1 MiB
        foreach (ulong c in candidates)
        {
            ulong end = c + size;
            if (c < LowMemoryEnd && end > InfoAreaEnd) continue;
            if (end > (ulong)mem.Ram.Size || !AllRam(mem, c, end)) continue;
            if (occupied.Any(r => c < r.End && end > r.Start)) continue;
            return (uint)c;
        }
        throw new InvalidDataException($"no free RAM for the Multiboot information (0x{size:X} bytes: command line, module names) outside the kernel and modules");
    }

    private static bool AllRam(PhysicalMemory mem, ulong start, ulong end)
    {
        for (ulong a = start & ~(ulong)(PhysicalMemory.PageSize - 1); a < end; a += PhysicalMemory.PageSize)
            if (mem.KindOf((uint)a) != PageKind.Ram) return false;
        return true;
    }

    /// <summary>Rejects a range that is not entirely RAM (beyond the end of RAM, or in the VGA hole / ROM / MMIO).</summary>
    private static void CheckRam(PhysicalMemory mem, uint start, ulong end, string what)
    {
        if (end > (ulong)mem.Ram.Size)
            throw new InvalidDataException($"{what} covers 0x{start:X8}-0x{end:X8}, beyond the end of guest RAM (0x{mem.Ram.Size:X})");
        for (ulong a = start & ~(ulong)(PhysicalMemory.PageSize - 1); a < end; a += PhysicalMemory.PageSize)
            if (mem.KindOf((uint)a) != PageKind.Ram)
                throw new InvalidDataException($"{what} covers 0x{start:X8}-0x{end:X8}, which includes 0x{a:X8}: {mem.KindOf((uint)a)}, not RAM");
    }

    private static void Zero(PhysicalMemory mem, uint address, uint length)
    {
        var zeros = new byte[Math.Min(length, 1u << 20)];
        for (uint done = 0; done < length;)
        {
            uint n = Math.Min(length - done, (uint)zeros.Length);
            mem.Load(address + done, zeros.AsSpan(0, (int)n));
            done += n;
        }
    }

    private static uint PageAlign(uint a) => (uint)(((ulong)a + PhysicalMemory.PageSize - 1) & ~(ulong)(PhysicalMemory.PageSize - 1));

    private static void Put(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
}
