using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Virt.Cpu;

// Operand access for the generic executor, straight from Iced's decoded instruction.
public sealed partial class Cpu
{
    /// <summary>Where the generic executor continues: the next instruction unless it branches.</summary>
    private uint _nextEip;

    private static readonly sbyte[] s_gprIndex = BuildGprIndex();
    private static readonly byte[] s_gprBits = BuildGprBits();

    private static sbyte[] BuildGprIndex()
    {
        var t = new sbyte[Enum.GetValues<Register>().Length + 1];
        Array.Fill(t, (sbyte)-1);
        for (int i = 0; i < 8; i++)
        {
            t[(int)Register.AL + i] = (sbyte)i;
            t[(int)Register.AX + i] = (sbyte)i;
            t[(int)Register.EAX + i] = (sbyte)i;
        }
        return t;
    }

    private static byte[] BuildGprBits()
    {
        var t = new byte[Enum.GetValues<Register>().Length + 1];
        for (int i = 0; i < 8; i++)
        {
            t[(int)Register.AL + i] = 8;
            t[(int)Register.AX + i] = 16;
            t[(int)Register.EAX + i] = 32;
        }
        return t;
    }

    internal uint ReadReg(Register r)
    {
        int i = s_gprIndex[(int)r];
        return s_gprBits[(int)r] switch
        {
            32 => R[i],
            16 => R[i] & 0xFFFF,
            8 => GetReg8(i),
            _ => r.IsSegmentRegister() ? Seg[r - Register.ES].Selector : throw new InvalidOperationException($"register {r}"),
        };
    }

    internal void WriteReg(Register r, uint v)
    {
        int i = s_gprIndex[(int)r];
        switch (s_gprBits[(int)r])
        {
            case 32: R[i] = v; break;
            case 16: SetReg16(i, (ushort)v); break;
            case 8: SetReg8(i, (byte)v); break;
            default: throw new InvalidOperationException($"register {r}");
        }
    }

    /// <summary>The offset part of the memory operand, wrapped to the address size.</summary>
    internal uint EffectiveAddress(in Instruction ins)
    {
        uint ea = ins.MemoryDisplacement32;
        Register b = ins.MemoryBase, x = ins.MemoryIndex;
        if (b != Register.None) ea += R[s_gprIndex[(int)b]];
        if (x != Register.None) ea += R[s_gprIndex[(int)x]] * (uint)ins.MemoryIndexScale;
        return AddressSize16(in ins) ? ea & 0xFFFF : ea;
    }

    internal static bool AddressSize16(in Instruction ins)
    {
        Register b = ins.MemoryBase, x = ins.MemoryIndex;
        if (b != Register.None) return b.IsGPR16();
        if (x != Register.None) return x.IsGPR16();
        return ins.MemoryDisplSize == 2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MemSeg(in Instruction ins) => ins.MemorySegment - Register.ES;

    /// <summary>Operand size in bits of operand n (register, memory, or the destination's for immediates).</summary>
    internal static int OpBits(in Instruction ins, int n)
    {
        switch (ins.GetOpKind(n))
        {
            case OpKind.Register:
                {
                    Register r = ins.GetOpRegister(n);
                    int bits = s_gprBits[(int)r];
                    return bits != 0 ? bits : 16;
                }
            case OpKind.Memory:
                return ins.MemorySize.GetSize() * 8;
            case OpKind.Immediate8: return 8;
            case OpKind.Immediate16: case OpKind.Immediate8to16: return 16;
            default: return 32;
        }
    }

    internal uint ReadMem(int seg, uint ea, int bits) => bits switch
    {
        8 => Read8(seg, ea),
        16 => Read16(seg, ea),
        _ => Read32(seg, ea),
    };

    internal void WriteMem(int seg, uint ea, int bits, uint v)
    {
        switch (bits)
        {
            case 8: Write8(seg, ea, (byte)v); break;
            case 16: Write16(seg, ea, (ushort)v); break;
            default: Write32(seg, ea, v); break;
        }
    }

    internal uint ReadOperand(in Instruction ins, int n, int bits)
    {
        switch (ins.GetOpKind(n))
        {
            case OpKind.Register: return ReadReg(ins.GetOpRegister(n));
            case OpKind.Memory: return ReadMem(MemSeg(in ins), EffectiveAddress(in ins), bits);
            default: return (uint)ins.GetImmediate(n) & SizeMask(bits);
        }
    }

    internal void WriteOperand(in Instruction ins, int n, int bits, uint v)
    {
        if (ins.GetOpKind(n) == OpKind.Register) WriteReg(ins.GetOpRegister(n), v);
        else WriteMem(MemSeg(in ins), EffectiveAddress(in ins), bits, v);
    }

    /// <summary>For read-modify-write on memory: checks the store can succeed before anything changes.</summary>
    internal void ProbeOperand(in Instruction ins, int n, int bits)
    {
        if (ins.GetOpKind(n) == OpKind.Memory) ProbeWrite(MemSeg(in ins), EffectiveAddress(in ins), bits / 8);
    }

    /// <summary>Operand size in bytes of a stack instruction, from Iced's stack-pointer increment.</summary>
    internal static int StackOpSize(in Instruction ins) => Math.Abs(ins.StackPointerIncrement) >= 4 && ins.StackPointerIncrement % 4 == 0 ? 4 : 2;
}
