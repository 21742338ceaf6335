using System.Buffers.Binary;
using System.Text;
using Virt.Cpu.State;
using Virt.Pc.Board;

namespace Virt.Pc.Boot;

/// <summary>
/// The Linux/x86 32-bit boot protocol for a bzImage (Documentation/arch/x86/boot.rst, "32-bit
/// boot protocol"): the protected-mode kernel at 1 MiB, a boot_params page built from the image's
/// setup header plus an e820 map, the command line and initrd, then entry at code32_start in flat
/// protected mode with ESI = boot_params, CS = __BOOT_CS (0x10), DS/ES/SS = __BOOT_DS (0x18) from
/// a GDT written to guest memory, interrupts off and paging off.
/// </summary>
public static class LinuxLoader
{
    /// <summary>Fixed low-memory spots, all in the first 64 KiB that Linux reserves early, away from the IVT/BDA.</summary>
    public const uint GdtAddress = 0x6000;
    public const uint BootParamsAddress = 0x7000;
    public const uint CommandLineAddress = 0x8000;
    public const uint KernelAddress = PcMemoryMap.HighMemoryStart;

    public const uint BootCs = 0x10, BootDs = 0x18;
    private const int BootParamsSize = 4096;
    private const int E820CountOffset = 0x1E8;
    private const int E820TableOffset = 0x2D0;
    private const int E820MaxEntries = 128;
    private const uint LowRamEnd = PcMemoryMap.BaseMemoryEnd;
    private const uint LoaderTypeUndefined = 0xFF;

    /// <summary>
    /// Loads <paramref name="bzImage"/> (and the optional initrd) into guest RAM of
    /// <paramref name="ramSize"/> bytes starting at 0 and sets the CPU's state for the 32-bit entry.
    /// </summary>
    public static LinuxBootLayout Load(Cpu.Cpu cpu, ReadOnlySpan<byte> bzImage, ReadOnlySpan<byte> initrd, string commandLine, uint ramSize)
    {
        var (hdr, initrdAddr) = Plan(bzImage, initrd.Length, commandLine, ramSize);
        var kernel = bzImage[hdr.SetupBytes..];
        byte[] cmd = Encoding.ASCII.GetBytes(commandLine);
        uint initrdSize = (uint)initrd.Length;

        var e820 = new List<E820Entry>
        {
            new(0, LowRamEnd, E820Type.Ram),
            new(LowRamEnd, KernelAddress - LowRamEnd, E820Type.Reserved),
            new(KernelAddress, ramSize - KernelAddress, E820Type.Ram),
        };

        var mem = cpu.Memory;
        mem.Load(KernelAddress, kernel);
        if (initrdSize > 0) mem.Load(initrdAddr, initrd);
        var cmdZ = new byte[cmd.Length + 1];
        cmd.CopyTo(cmdZ, 0);
        mem.Load(CommandLineAddress, cmdZ);

        var bp = new byte[BootParamsSize];
        // The setup header is copied as is from the image; then the loader's fields are filled in.
        bzImage[LinuxSetupHeader.SetupSectsOffset..hdr.HeaderEnd].CopyTo(bp.AsSpan(LinuxSetupHeader.SetupSectsOffset));
        bp[LinuxSetupHeader.TypeOfLoaderOffset] = (byte)LoaderTypeUndefined;
        // LOADED_HIGH stays; CAN_USE_HEAP with heap_end_ptr as a real-mode setup would have it;
        // KEEP_SEGMENTS clear so the kernel reloads its segments from its own GDT.
        bp[LinuxSetupHeader.LoadFlagsOffset] = (byte)((hdr.LoadFlags | LinuxSetupHeader.CanUseHeap) & ~LinuxSetupHeader.KeepSegments);
        W16(bp, LinuxSetupHeader.HeapEndPtrOffset, 0xFE00 - 0x200);
        W32(bp, LinuxSetupHeader.Code32StartOffset, hdr.Code32Start);
        W32(bp, LinuxSetupHeader.RamdiskImageOffset, initrdAddr);
        W32(bp, LinuxSetupHeader.RamdiskSizeOffset, initrdSize);
        W32(bp, LinuxSetupHeader.CmdLinePtrOffset, CommandLineAddress);
        // Legacy memory sizes (ext_mem_k, alt_mem_k) for kernels that look before the e820 map.
        uint extKb = (ramSize - KernelAddress) >> 10;
        W16(bp, 0x002, (ushort)Math.Min(extKb, 0xFFFFu));
        W32(bp, 0x1E0, extKb);
        bp[E820CountOffset] = (byte)e820.Count;
        for (int i = 0; i < e820.Count && i < E820MaxEntries; i++)
        {
            int o = E820TableOffset + i * 20;
            BinaryPrimitives.WriteUInt64LittleEndian(bp.AsSpan(o), e820[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(bp.AsSpan(o + 8), e820[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(bp.AsSpan(o + 16), (uint)e820[i].Type);
        }
        mem.Load(BootParamsAddress, bp);

        // GDT: null, unused, __BOOT_CS flat 4 GiB code, __BOOT_DS flat 4 GiB data.
        var gdt = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(16), 0x00CF_9B00_0000_FFFFUL);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(24), 0x00CF_9300_0000_FFFFUL);
        mem.Load(GdtAddress, gdt);

        EnterKernel(cpu, hdr.Code32Start);
        return new LinuxBootLayout(GdtAddress, BootParamsAddress, CommandLineAddress, KernelAddress, (uint)kernel.Length,
            initrdAddr, initrdSize, hdr.Code32Start, e820);
    }

    /// <summary>
    /// Checks everything <see cref="Load"/> checks without touching a CPU or memory, so a host can
    /// refuse a bad image, command line or RAM size before it creates anything.
    /// </summary>
    /// <exception cref="LinuxImageException">With the reason.</exception>
    public static LinuxSetupHeader Check(ReadOnlySpan<byte> bzImage, int initrdLength, string commandLine, uint ramSize) =>
        Plan(bzImage, initrdLength, commandLine, ramSize).Header;

    /// <summary>Validates the image against the RAM and works out where the initrd goes (0 if none).</summary>
    private static (LinuxSetupHeader Header, uint InitrdAddress) Plan(ReadOnlySpan<byte> bzImage, int initrdLength, string commandLine, uint ramSize)
    {
        var hdr = LinuxSetupHeader.Parse(bzImage);
        if (ramSize < 16u << 20)
            throw new LinuxImageException($"{ramSize >> 20} MiB of RAM is too little to boot Linux here (16 MiB minimum)");

        int kernelLength = bzImage.Length - hdr.SetupBytes;
        // The decompressor needs init_size bytes from where it runs (or from its preferred address).
        ulong kernelNeed = Math.Max((ulong)kernelLength, hdr.InitSize);
        if (KernelAddress + kernelNeed > ramSize)
            throw new LinuxImageException($"kernel needs 0x{kernelNeed:X} bytes at 1 MiB but RAM ends at 0x{ramSize:X}");

        if ((uint)Encoding.ASCII.GetByteCount(commandLine) > hdr.CmdlineSize)
            throw new LinuxImageException($"command line is {Encoding.ASCII.GetByteCount(commandLine)} bytes; the kernel accepts at most {hdr.CmdlineSize}");

        uint initrdAddr = 0, initrdSize = (uint)initrdLength;
        if (initrdSize > 0)
        {
            // As high as allowed, page aligned: below the top of RAM and inside initrd_addr_max.
            ulong top = Math.Min((ulong)ramSize, (ulong)hdr.InitrdAddrMax + 1);
            ulong kernelEnd = KernelAddress + kernelNeed;
            ulong start = initrdSize > top ? 0 : (top - initrdSize) & ~0xFFFUL;
            if (initrdSize > top || start < kernelEnd)
                throw new LinuxImageException($"initrd of {initrdSize} bytes does not fit between the kernel (ends 0x{kernelEnd:X}) and 0x{top:X}");
            initrdAddr = (uint)start;
        }
        return (hdr, initrdAddr);
    }

    private static void EnterKernel(Cpu.Cpu cpu, uint entry)
    {
        var s = cpu.State;
        s.Cr0 = ControlBits.CR0_PE | ControlBits.CR0_ET;
        s.Cpl = 0;
        s.Gdtr = new DescriptorTableRegister { Base = GdtAddress, Limit = 31 };
        s.Idtr = new DescriptorTableRegister { Base = 0, Limit = 0 };
        s.Cs = new SegmentRegister { Selector = (ushort)BootCs, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC09B };
        var data = new SegmentRegister { Selector = (ushort)BootDs, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        foreach (int i in (ReadOnlySpan<int>)[SegmentIndex.DS, SegmentIndex.ES, SegmentIndex.SS, SegmentIndex.FS, SegmentIndex.GS]) s.SetSegment(i, data);
        for (int r = 0; r < 8; r++) s[r] = 0;
        s.Esi = BootParamsAddress;
        s.Eip = entry;
        s.Eflags = Flags.Reserved1; // IF clear
    }

    private static void W16(byte[] b, int o, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(o), v);

    private static void W32(byte[] b, int o, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(o), v);
}
