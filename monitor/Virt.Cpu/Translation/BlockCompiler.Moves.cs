using System.Reflection.Emit;
using Iced.Intel;
using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation;

// Flag-free moves the compact form leaves to the generic executor (8- and 16-bit register and
// memory moves, MOVSX, MOVZX from a 16-bit register). Compiled code would otherwise spill around
// each; they are common in compiled C (the kernel's XZ decompressor is full of 16-bit loads and
// stores). Recognised from the block's Iced instructions; the compact op's memory fields (filled
// for Generic ops too) give the address.
internal sealed partial class BlockCompiler
{
    private enum Move : byte
    {
        None,
        R8R8, R8Imm, R16R16, R16Imm, R16M, M16R, M16Imm, M8Imm,
        SxR32R8, SxR32R16, SxR32M8, SxR32M16, ZxR32R16,
    }

    private readonly record struct MoveForm(Move Kind, byte Dst, byte Src, uint Imm);

    private MoveForm[] _moves = [];

    private void FindMoves()
    {
        _moves = new MoveForm[N];
        for (int i = 0; i < N; i++)
            if (_ops[i].Op == Op.Generic) _moves[i] = Classify(in _b.Instructions[i], ref _ops[i]);
    }

    private static MoveForm Classify(in Instruction ins, ref DecodedOp d)
    {
        if (ins.HasLockPrefix || ins.HasRepPrefix || ins.HasRepnePrefix) return default;
        bool mem = (ins.OpCount > 0 && ins.Op0Kind == OpKind.Memory) || (ins.OpCount > 1 && ins.Op1Kind == OpKind.Memory);
        if (mem && !(ins.MemoryBase == Register.None || ins.MemoryBase.IsGPR32() || ins.MemoryBase.IsGPR16())) return default;
        // The compact op must carry this instruction's address (it does unless built GenericOnly for tests).
        if (mem && (d.Disp != ins.MemoryDisplacement32
            || d.Base != (ins.MemoryBase == Register.None ? DecodedOp.NoReg : CompactForm.GprIndex(ins.MemoryBase))
            || d.Index != (ins.MemoryIndex == Register.None ? DecodedOp.NoReg : CompactForm.GprIndex(ins.MemoryIndex)))) return default;
        byte R8(Register r) => (byte)(r - Register.AL);
        byte R16(Register r) => (byte)(r - Register.AX);
        byte R32(Register r) => (byte)(r - Register.EAX);
        switch (ins.Code)
        {
            case Code.Mov_r8_rm8 when !mem: case Code.Mov_rm8_r8 when !mem:
                return new(Move.R8R8, R8(ins.Op0Register), R8(ins.Op1Register), 0);
            case Code.Mov_r8_imm8:
                return new(Move.R8Imm, R8(ins.Op0Register), 0, ins.Immediate8);
            case Code.Mov_rm8_imm8:
                return mem ? new(Move.M8Imm, 0, 0, ins.Immediate8) : new(Move.R8Imm, R8(ins.Op0Register), 0, ins.Immediate8);
            case Code.Mov_r16_rm16:
                return mem ? new(Move.R16M, R16(ins.Op0Register), 0, 0) : new(Move.R16R16, R16(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Mov_rm16_r16:
                return mem ? new(Move.M16R, 0, R16(ins.Op1Register), 0) : new(Move.R16R16, R16(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Mov_r16_imm16:
                return new(Move.R16Imm, R16(ins.Op0Register), 0, ins.Immediate16);
            case Code.Mov_rm16_imm16:
                return mem ? new(Move.M16Imm, 0, 0, ins.Immediate16) : new(Move.R16Imm, R16(ins.Op0Register), 0, ins.Immediate16);
            case Code.Movsx_r32_rm8:
                return mem ? new(Move.SxR32M8, R32(ins.Op0Register), 0, 0) : new(Move.SxR32R8, R32(ins.Op0Register), R8(ins.Op1Register), 0);
            case Code.Movsx_r32_rm16:
                return mem ? new(Move.SxR32M16, R32(ins.Op0Register), 0, 0) : new(Move.SxR32R16, R32(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Movzx_r32_rm16 when !mem:
                return new(Move.ZxR32R16, R32(ins.Op0Register), R16(ins.Op1Register), 0);
            default:
                return default;
        }
    }

    private static bool MoveHasMemory(Move k) => k is Move.R16M or Move.M16R or Move.M16Imm or Move.M8Imm or Move.SxR32M8 or Move.SxR32M16;

    private static bool MoveWritesMemory(Move k) => k is Move.M16R or Move.M16Imm or Move.M8Imm;

    private static (int Reads, int Writes) MoveRegisterUse(MoveForm m) => m.Kind switch
    {
        Move.R8R8 => (Bit8(m.Src) | Bit8(m.Dst), Bit8(m.Dst)),
        Move.R8Imm => (Bit8(m.Dst), Bit8(m.Dst)),
        Move.R16R16 => (Bit(m.Src) | Bit(m.Dst), Bit(m.Dst)),
        Move.R16Imm or Move.R16M => (Bit(m.Dst), Bit(m.Dst)),
        Move.M16R => (Bit(m.Src), 0),
        Move.SxR32R8 => (Bit8(m.Src), Bit(m.Dst)),
        Move.SxR32R16 or Move.ZxR32R16 => (Bit(m.Src), Bit(m.Dst)),
        Move.SxR32M8 or Move.SxR32M16 => (0, Bit(m.Dst)),
        _ => (0, 0),
    };

    /// <summary>Stores the value on the stack into the low 16 bits of register r.</summary>
    private void St16(int r)
    {
        _il.Emit(OpCodes.Conv_U2);
        Ld(r); LdImm(0xFFFF_0000u); _il.Emit(OpCodes.And); _il.Emit(OpCodes.Or);
        St(r);
    }

    /// <summary>Emits move i. Returns true when it stores to memory.</summary>
    private bool EmitMove(int i, ref DecodedOp d, MoveForm m)
    {
        switch (m.Kind)
        {
            case Move.R8R8: Ld8(m.Src); St8(m.Dst); return false;
            case Move.R8Imm: LdImm(m.Imm); St8(m.Dst); return false;
            case Move.R16R16: Ld(m.Src); St16(m.Dst); return false;
            case Move.R16Imm: LdImm(m.Imm); St16(m.Dst); return false;
            case Move.R16M: EmitEa(ref d); EmitRead(i, d.Seg, 2); _il.Emit(OpCodes.Ldloc, _val); St16(m.Dst); return false;
            case Move.M16R: Ld(m.Src); _il.Emit(OpCodes.Conv_U2); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 2); return true;
            case Move.M16Imm: LdImm(m.Imm); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 2); return true;
            case Move.M8Imm: LdImm(m.Imm); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 1); return true;
            case Move.SxR32R8: Ld8(m.Src); _il.Emit(OpCodes.Conv_I1); St(m.Dst); return false;
            case Move.SxR32R16: Ld(m.Src); _il.Emit(OpCodes.Conv_I2); St(m.Dst); return false;
            case Move.ZxR32R16: Ld(m.Src); _il.Emit(OpCodes.Conv_U2); St(m.Dst); return false;
            case Move.SxR32M8: EmitEa(ref d); EmitRead(i, d.Seg, 1); _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Conv_I1); St(m.Dst); return false;
            case Move.SxR32M16: EmitEa(ref d); EmitRead(i, d.Seg, 2); _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Conv_I2); St(m.Dst); return false;
            default: throw new InvalidOperationException($"not a move: {m.Kind}");
        }
    }
}
