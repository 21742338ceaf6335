using Iced.Intel;

namespace Virt.Cpu.Execution;

/// <summary>
/// A straight run of decoded guest instructions within one 4 KiB physical page (or one instruction
/// across a page end, see <see cref="SecondPage"/>), ending at a
/// control transfer, at the page end, or at a length cap. Keyed by guest-physical address and
/// code size, so it survives guest page-table switches; a write to its page invalidates it.
/// </summary>
internal sealed class Block
{
    public required DecodedOp[] Ops;
    public required Instruction[] Instructions;
    public required uint PhysStart;
    public required bool Code32;
    public required int ByteLength;
    /// <summary>False once a write to the page dropped it; a jump-cache hit must re-check.</summary>
    public bool Valid = true;
    /// <summary>Not in the cache (an instruction across a page end into MMIO): decoded for one use.</summary>
    public bool Transient;
    /// <summary>
    /// For a one-instruction block across a page end: the physical page number it ends in, plus one
    /// (zero for every block within one page). A write to either page drops it.
    /// </summary>
    public uint SecondPage;

    /// <summary>
    /// Byte offset of op <paramref name="op"/> from the block's start; the block's length for
    /// op = Ops.Length. Blocks are decoded with IP 0, so an instruction's IP is its offset.
    /// </summary>
    public uint OffsetOf(int op) => op < Instructions.Length ? (uint)Instructions[op].IP : (uint)ByteLength;

    // ---- The native backend (Cpu.Native.cs) ----
    /// <summary>Executions while interpreted; the block is compiled when this reaches the threshold.</summary>
    public int Heat;
    /// <summary>Times the native backend compiled this block again for another linear alias of its code.</summary>
    public int NativeAliases;
    /// <summary>The compiled block, once hot.</summary>
    public Virt.Cpu.Translation.Native.NativeBlockCompiler.NativeBlock? Native;
    /// <summary>The native backend declined this block (e.g. 16-bit code): keep interpreting it.</summary>
    public bool Untranslatable;
}
