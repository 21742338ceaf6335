namespace Virt.Shared.Abi;

/// <summary>
/// Constants of the comm page ABI. The byte offsets of every field are pinned by a test and
/// written down in docs/abi.md, so a device model in another language can attach.
/// </summary>
public static class CommPageLayout
{
    /// <summary>"COMM" read as a little-endian u32 at offset 0.</summary>
    public const uint Magic = 0x4D4D_4F43;

    /// <summary>Bumped on any change of an offset or a meaning. A reader that sees another value refuses the page.</summary>
    public const ushort Version = 2;

    public const int PageSize = 4096;

    /// <summary>
    /// Pages per VCPU: page 0 is the <see cref="CommPage"/>, page 1 the string I/O data page
    /// (one guest page of INS/OUTS data, the most the engine hands over in one exit).
    /// </summary>
    public const int PagesPerVcpu = 2;

    public const int VcpuStride = PageSize * PagesPerVcpu;

    /// <summary>Offset of the data page from the start of a VCPU's comm page.</summary>
    public const int DataPageOffset = PageSize;

    /// <summary>ISA IRQ lines a device model may drive (bits 0-15 of the IRQ words).</summary>
    public const int IrqLineCount = 16;
    public const uint IrqLineMask = (1u << IrqLineCount) - 1;

    public const int MsrSlots = 15;
    public const int OutRingSlots = 60;
    public const int InTableSlots = 60;
    public const int RamWriteSlots = 30;
}
