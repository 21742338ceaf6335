using System.Reflection.Emit;
using Iced.Intel;
using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation;

// Forms the compact form leaves to the generic executor but compiled code can do inline:
// flag-free moves (8- and 16-bit register and memory moves, MOVSX, MOVZX from a 16-bit register;
// the kernel's XZ decompressor is full of 16-bit loads and stores) and IMUL r32 (the kernel's
// bignum code for X.509 signatures). Compiled code would otherwise spill around each.
// Recognised from the block's Iced instructions; the compact op's memory fields (filled for
// Generic ops too) give the address.
internal sealed partial class BlockCompiler
{
    private enum Extra : byte
    {
        None,
        R8R8, R8Imm, R16R16, R16Imm, R16M, M16R, M16Imm, M8Imm,
        SxR32R8, SxR32R16, SxR32M8, SxR32M16, ZxR32R16,
        ImulRR, ImulRM, ImulRRI, ImulRMI,   // IMUL r32, r/m32 (Src the r/m register) and IMUL r32, r/m32, imm
    }

    private readonly record struct ExtraOp(Extra Kind, byte Dst, byte Src, uint Imm);

    private ExtraOp[] _extras = [];

    private void FindExtras()
    {
        _extras = new ExtraOp[N];
        for (int i = 0; i < N; i++)
            if (_ops[i].Op == Op.Generic) _extras[i] = Classify(in _b.Instructions[i], ref _ops[i]);
    }

    private static ExtraOp Classify(in Instruction ins, ref DecodedOp d)
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
            case Code.Mov_r8_rm8 when !mem:
            case Code.Mov_rm8_r8 when !mem:
                return new(Extra.R8R8, R8(ins.Op0Register), R8(ins.Op1Register), 0);
            case Code.Mov_r8_imm8:
                return new(Extra.R8Imm, R8(ins.Op0Register), 0, ins.Immediate8);
            case Code.Mov_rm8_imm8:
                return mem ? new(Extra.M8Imm, 0, 0, ins.Immediate8) : new(Extra.R8Imm, R8(ins.Op0Register), 0, ins.Immediate8);
            case Code.Mov_r16_rm16:
                return mem ? new(Extra.R16M, R16(ins.Op0Register), 0, 0) : new(Extra.R16R16, R16(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Mov_rm16_r16:
                return mem ? new(Extra.M16R, 0, R16(ins.Op1Register), 0) : new(Extra.R16R16, R16(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Mov_r16_imm16:
                return new(Extra.R16Imm, R16(ins.Op0Register), 0, ins.Immediate16);
            case Code.Mov_rm16_imm16:
                return mem ? new(Extra.M16Imm, 0, 0, ins.Immediate16) : new(Extra.R16Imm, R16(ins.Op0Register), 0, ins.Immediate16);
            case Code.Movsx_r32_rm8:
                return mem ? new(Extra.SxR32M8, R32(ins.Op0Register), 0, 0) : new(Extra.SxR32R8, R32(ins.Op0Register), R8(ins.Op1Register), 0);
            case Code.Movsx_r32_rm16:
                return mem ? new(Extra.SxR32M16, R32(ins.Op0Register), 0, 0) : new(Extra.SxR32R16, R32(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Movzx_r32_rm16 when !mem:
                return new(Extra.ZxR32R16, R32(ins.Op0Register), R16(ins.Op1Register), 0);
            case Code.Imul_r32_rm32:
                return mem ? new(Extra.ImulRM, R32(ins.Op0Register), 0, 0) : new(Extra.ImulRR, R32(ins.Op0Register), R32(ins.Op1Register), 0);
            case Code.Imul_r32_rm32_imm32:
            case Code.Imul_r32_rm32_imm8:
                return mem ? new(Extra.ImulRMI, R32(ins.Op0Register), 0, (uint)ins.GetImmediate(2))
                    : new(Extra.ImulRRI, R32(ins.Op0Register), R32(ins.Op1Register), (uint)ins.GetImmediate(2));
            default:
                return default;
        }
    }

    private static bool ExtraHasMemory(Extra k) => k is Extra.R16M or Extra.M16R or Extra.M16Imm or Extra.M8Imm or Extra.SxR32M8 or Extra.SxR32M16
        or Extra.ImulRM or Extra.ImulRMI;

    private static bool ExtraWritesMemory(Extra k) => k is Extra.M16R or Extra.M16Imm or Extra.M8Imm;

    private static (int Reads, int Writes) ExtraRegisterUse(ExtraOp m) => m.Kind switch
    {
        Extra.R8R8 => (Bit8(m.Src) | Bit8(m.Dst), Bit8(m.Dst)),
        Extra.R8Imm => (Bit8(m.Dst), Bit8(m.Dst)),
        Extra.R16R16 => (Bit(m.Src) | Bit(m.Dst), Bit(m.Dst)),
        Extra.R16Imm or Extra.R16M => (Bit(m.Dst), Bit(m.Dst)),
        Extra.M16R => (Bit(m.Src), 0),
        Extra.SxR32R8 => (Bit8(m.Src), Bit(m.Dst)),
        Extra.SxR32R16 or Extra.ZxR32R16 => (Bit(m.Src), Bit(m.Dst)),
        Extra.SxR32M8 or Extra.SxR32M16 or Extra.ImulRMI => (0, Bit(m.Dst)),
        Extra.ImulRR => (Bit(m.Dst) | Bit(m.Src), Bit(m.Dst)),
        Extra.ImulRM => (Bit(m.Dst), Bit(m.Dst)),
        Extra.ImulRRI => (Bit(m.Src), Bit(m.Dst)),
        _ => (0, 0),
    };

    /// <summary>
    /// a and b on the stack: dst = the low 32 bits of a * b. The flags (CF = OF = signed overflow)
    /// are produced only if read, by the interpreter's IMul on the recorded operands.
    /// </summary>
    private void EmitImul(int dst)
    {
        _il.Emit(OpCodes.Stloc, _lfB); _il.Emit(OpCodes.Stloc, _lfA);
        _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB); _il.Emit(OpCodes.Mul);
        _il.Emit(OpCodes.Stloc, _lfRes);
        _il.Emit(OpCodes.Ldloc, _lfRes); St(dst);
        _flagState = new FlagState(Producer.Imul, 32, false);
    }

    /// <summary>Stores the value on the stack into the low 16 bits of register r.</summary>
    private void St16(int r)
    {
        _il.Emit(OpCodes.Conv_U2);
        Ld(r); LdImm(0xFFFF_0000u); _il.Emit(OpCodes.And); _il.Emit(OpCodes.Or);
        St(r);
    }

    /// <summary>Emits move i. Returns true when it stores to memory.</summary>
    private bool EmitExtra(int i, ref DecodedOp d, ExtraOp m)
    {
        switch (m.Kind)
        {
            case Extra.R8R8: Ld8(m.Src); St8(m.Dst); return false;
            case Extra.R8Imm: LdImm(m.Imm); St8(m.Dst); return false;
            case Extra.R16R16: Ld(m.Src); St16(m.Dst); return false;
            case Extra.R16Imm: LdImm(m.Imm); St16(m.Dst); return false;
            case Extra.R16M: EmitEa(ref d); EmitRead(i, d.Seg, 2); _il.Emit(OpCodes.Ldloc, _val); St16(m.Dst); return false;
            case Extra.M16R: Ld(m.Src); _il.Emit(OpCodes.Conv_U2); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 2); return true;
            case Extra.M16Imm: LdImm(m.Imm); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 2); return true;
            case Extra.M8Imm: LdImm(m.Imm); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 1); return true;
            case Extra.SxR32R8: Ld8(m.Src); _il.Emit(OpCodes.Conv_I1); St(m.Dst); return false;
            case Extra.SxR32R16: Ld(m.Src); _il.Emit(OpCodes.Conv_I2); St(m.Dst); return false;
            case Extra.ZxR32R16: Ld(m.Src); _il.Emit(OpCodes.Conv_U2); St(m.Dst); return false;
            case Extra.SxR32M8: EmitEa(ref d); EmitRead(i, d.Seg, 1); _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Conv_I1); St(m.Dst); return false;
            case Extra.SxR32M16: EmitEa(ref d); EmitRead(i, d.Seg, 2); _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Conv_I2); St(m.Dst); return false;
            case Extra.ImulRR: Ld(m.Dst); Ld(m.Src); EmitImul(m.Dst); return false;
            case Extra.ImulRM: EmitEa(ref d); EmitRead(i, d.Seg, 4); Ld(m.Dst); _il.Emit(OpCodes.Ldloc, _val); EmitImul(m.Dst); return false;
            case Extra.ImulRRI: Ld(m.Src); LdImm(m.Imm); EmitImul(m.Dst); return false;
            case Extra.ImulRMI: EmitEa(ref d); EmitRead(i, d.Seg, 4); _il.Emit(OpCodes.Ldloc, _val); LdImm(m.Imm); EmitImul(m.Dst); return false;
            default: throw new InvalidOperationException($"not an extra form: {m.Kind}");
        }
    }
}
