using System.Runtime.InteropServices;

namespace Virt.Cpu.Execution;

/// <summary>
/// One instruction in the compact pre-decoded form (24 bytes). Register operands are indices
/// 0-7 in the x86 encoding order (8-bit: 0-3 low bytes, 4-7 high bytes of regs 0-3). A memory
/// operand is Base + Index * Scale + Disp in segment Seg; Base/Index = NoReg when absent.
/// Branch targets are stored relative to the next instruction so a block stays valid wherever
/// the same physical code is mapped.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct DecodedOp
{
    public const byte NoReg = 0xFF;

    public Op Op;
    public byte Len;
    public byte Dst;
    public byte Src;
    public byte Base;
    public byte Index;
    public byte Scale;   // shift count 0-3
    public byte Seg;
    public byte Sub;     // ALU operation, condition code, shift kind
    public byte Addr16;  // 1 when the address size is 16 bits (EA wraps at 64 KiB)
    public ushort Extra; // index of the Iced instruction in the block (for Generic)
    public uint Disp;
    public uint Imm;     // immediate, relative branch displacement, or RET's extra pop count
}
