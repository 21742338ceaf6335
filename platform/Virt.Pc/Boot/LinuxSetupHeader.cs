using System.Buffers.Binary;

namespace Virt.Pc.Boot;

/// <summary>
/// The fields of a bzImage's setup header (Documentation/arch/x86/boot.rst) that a 32-bit boot
/// loader needs, parsed and validated. Offsets are from the start of the image, which is also
/// where they sit in boot_params (the "zero page").
/// </summary>
public sealed record LinuxSetupHeader
{
    public const int SetupSectsOffset = 0x1F1;
    public const int BootFlagOffset = 0x1FE;
    public const int HeaderMagicOffset = 0x202;
    public const int VersionOffset = 0x206;
    public const int TypeOfLoaderOffset = 0x210;
    public const int LoadFlagsOffset = 0x211;
    public const int Code32StartOffset = 0x214;
    public const int RamdiskImageOffset = 0x218;
    public const int RamdiskSizeOffset = 0x21C;
    public const int HeapEndPtrOffset = 0x224;
    public const int CmdLinePtrOffset = 0x228;
    public const int InitrdAddrMaxOffset = 0x22C;
    public const int KernelAlignmentOffset = 0x230;
    public const int RelocatableOffset = 0x234;
    public const int CmdlineSizeOffset = 0x238;
    public const int InitSizeOffset = 0x260;

    public const uint HeaderMagic = 0x5372_6448; // "HdrS"
    public const ushort MinimumVersion = 0x0204; // 2.04: 32-bit syssize, the oldest protocol we accept

    public const byte LoadedHigh = 0x01;
    public const byte KeepSegments = 0x40;
    public const byte CanUseHeap = 0x80;

    /// <summary>Number of 512-byte setup sectors after the boot sector (0 means 4, as the protocol says).</summary>
    public required int SetupSects { get; init; }
    public required ushort Version { get; init; }
    public required byte LoadFlags { get; init; }
    public required uint Code32Start { get; init; }
    /// <summary>Highest address the initrd may occupy (inclusive); 0x37FFFFFF before 2.03 semantics were defined.</summary>
    public required uint InitrdAddrMax { get; init; }
    /// <summary>Maximum command line length without the terminating NUL (255 before 2.06).</summary>
    public required uint CmdlineSize { get; init; }
    public required uint InitSize { get; init; }
    /// <summary>End of the setup header inside the image: 0x202 plus the byte at 0x201 (the jump's offset).</summary>
    public required int HeaderEnd { get; init; }

    /// <summary>Bytes of real-mode code (boot sector + setup) before the protected-mode kernel.</summary>
    public int SetupBytes => (SetupSects + 1) * 512;

    /// <summary>Parses and validates a bzImage's header; throws <see cref="LinuxImageException"/> saying what is wrong.</summary>
    public static LinuxSetupHeader Parse(ReadOnlySpan<byte> image)
    {
        if (image.Length < 0x264)
            throw new LinuxImageException($"image is {image.Length} bytes: too small to hold a setup header");
        if (BinaryPrimitives.ReadUInt16LittleEndian(image[BootFlagOffset..]) != 0xAA55)
            throw new LinuxImageException("no boot-sector signature 0xAA55 at 0x1FE: not a Linux bzImage");
        if (BinaryPrimitives.ReadUInt32LittleEndian(image[HeaderMagicOffset..]) != HeaderMagic)
            throw new LinuxImageException("no \"HdrS\" magic at 0x202: a pre-2.00 zImage or not a Linux kernel");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(image[VersionOffset..]);
        if (version < MinimumVersion)
            throw new LinuxImageException($"boot protocol {version >> 8}.{version & 0xFF:D2} is too old: 2.04 or later is required");
        byte loadFlags = image[LoadFlagsOffset];
        if ((loadFlags & LoadedHigh) == 0)
            throw new LinuxImageException("loadflags.LOADED_HIGH is clear: a zImage (kernel at 0x10000) is not supported, only bzImage");
        int sects = image[SetupSectsOffset];
        if (sects == 0) sects = 4;
        int headerEnd = 0x202 + image[0x201];
        int setupBytes = (sects + 1) * 512;
        if (setupBytes >= image.Length)
            throw new LinuxImageException($"setup_sects={sects} puts the kernel at {setupBytes}, beyond the image's {image.Length} bytes");
        if (headerEnd > setupBytes || headerEnd < 0x264)
            throw new LinuxImageException($"setup header ends at 0x{headerEnd:X}: outside the setup area");
        uint initrdMax = BinaryPrimitives.ReadUInt32LittleEndian(image[InitrdAddrMaxOffset..]);
        if (initrdMax == 0) initrdMax = 0x37FF_FFFF;
        uint cmdlineSize = version >= 0x0206 ? BinaryPrimitives.ReadUInt32LittleEndian(image[CmdlineSizeOffset..]) : 255;
        uint initSize = version >= 0x020A ? BinaryPrimitives.ReadUInt32LittleEndian(image[InitSizeOffset..]) : 0;
        return new LinuxSetupHeader
        {
            SetupSects = sects,
            Version = version,
            LoadFlags = loadFlags,
            Code32Start = BinaryPrimitives.ReadUInt32LittleEndian(image[Code32StartOffset..]),
            InitrdAddrMax = initrdMax,
            CmdlineSize = cmdlineSize,
            InitSize = initSize,
            HeaderEnd = headerEnd,
        };
    }
}
