using Iced.Intel;

namespace Virt.Cpu.Execution;

/// <summary>
/// Turns an Iced instruction into the compact form: a dedicated handler for the hot simple
/// forms, <see cref="Op.Generic"/> for everything else.
/// </summary>
internal static class CompactForm
{
    public static void Build(in Instruction ins, ref DecodedOp d, int index)
    {
        d = default;
        d.Op = Op.Generic;
        d.Len = (byte)ins.Length;
        d.Extra = (ushort)index;
        d.Base = d.Index = DecodedOp.NoReg;
        if (ins.HasLockPrefix || ins.HasRepPrefix || ins.HasRepnePrefix) return;

        bool mem0 = ins.OpCount > 0 && ins.Op0Kind == OpKind.Memory;
        bool mem1 = ins.OpCount > 1 && ins.Op1Kind == OpKind.Memory;
        if (mem0 || mem1)
        {
            if (ins.MemoryBase is not Register.None && !IsGpr(ins.MemoryBase)) return;
            d.Base = ins.MemoryBase == Register.None ? DecodedOp.NoReg : GprIndex(ins.MemoryBase);
            d.Index = ins.MemoryIndex == Register.None ? DecodedOp.NoReg : GprIndex(ins.MemoryIndex);
            d.Scale = (byte)(ins.MemoryIndexScale switch { 1 => 0, 2 => 1, 4 => 2, _ => 3 });
            d.Disp = ins.MemoryDisplacement32;
            d.Seg = (byte)(ins.MemorySegment - Register.ES);
            d.Addr16 = (byte)(ins.MemoryBase.IsGPR16() || ins.MemoryIndex.IsGPR16() || (ins.MemoryBase == Register.None && ins.MemoryIndex == Register.None && ins.MemoryDisplSize == 2) ? 1 : 0);
        }

        switch (ins.Code)
        {
            case Code.Nopd:
            case Code.Nopw:
                d.Op = Op.Nop; return;

            case Code.Mov_r32_rm32:
                if (mem1) Set(ref d, Op.MovRM32, R32(ins.Op0Register), 0);
                else Set(ref d, Op.MovRR32, R32(ins.Op0Register), R32(ins.Op1Register));
                return;
            case Code.Mov_rm32_r32:
                if (mem0) Set(ref d, Op.MovMR32, 0, R32(ins.Op1Register));
                else Set(ref d, Op.MovRR32, R32(ins.Op0Register), R32(ins.Op1Register));
                return;
            case Code.Mov_r32_imm32:
                Set(ref d, Op.MovRI32, R32(ins.Op0Register), 0); d.Imm = ins.Immediate32; return;
            case Code.Mov_rm32_imm32:
                if (mem0) { Set(ref d, Op.MovMI32, 0, 0); d.Imm = ins.Immediate32; }
                else { Set(ref d, Op.MovRI32, R32(ins.Op0Register), 0); d.Imm = ins.Immediate32; }
                return;
            case Code.Mov_r8_rm8:
                if (mem1) Set(ref d, Op.MovRM8, R8(ins.Op0Register), 0);
                return;
            case Code.Mov_rm8_r8:
                if (mem0) Set(ref d, Op.MovMR8, 0, R8(ins.Op1Register));
                return;
            case Code.Movzx_r32_rm8:
                if (mem1) Set(ref d, Op.MovzxRM8, R32(ins.Op0Register), 0);
                else Set(ref d, Op.MovzxRR8, R32(ins.Op0Register), R8(ins.Op1Register));
                return;
            case Code.Movzx_r32_rm16:
                if (mem1) Set(ref d, Op.MovzxRM16, R32(ins.Op0Register), 0);
                return;

            case Code.Inc_r32: Set(ref d, Op.IncR32, R32(ins.Op0Register), 0); return;
            case Code.Dec_r32: Set(ref d, Op.DecR32, R32(ins.Op0Register), 0); return;
            case Code.Inc_rm32 when !mem0: Set(ref d, Op.IncR32, R32(ins.Op0Register), 0); return;
            case Code.Dec_rm32 when !mem0: Set(ref d, Op.DecR32, R32(ins.Op0Register), 0); return;
            case Code.Push_r32: Set(ref d, Op.PushR32, R32(ins.Op0Register), 0); return;
            case Code.Pop_r32: Set(ref d, Op.PopR32, R32(ins.Op0Register), 0); return;
            case Code.Pushd_imm32:
            case Code.Pushd_imm8:
                Set(ref d, Op.PushI32, 0, 0); d.Imm = (uint)ins.GetImmediate(0); return;
            case Code.Lea_r32_m:
                Set(ref d, Op.Lea32, R32(ins.Op0Register), 0); return;

            case Code.Jmp_rel8_16:
            case Code.Jmp_rel16:
            case Code.Jmp_rel8_32:
            case Code.Jmp_rel32_32:
                Branch(in ins, ref d, Op.Jmp, 0); return;
            case Code.Call_rel32_32:
                Branch(in ins, ref d, Op.Call32, 0); return;
            case Code.Retnd:
                Set(ref d, Op.Ret32, 0, 0); return;
            case Code.Retnd_imm16:
                Set(ref d, Op.Ret32, 0, 0); d.Imm = ins.Immediate16; return;
            case Code.Jmp_rm32:
                if (mem0) Set(ref d, Op.JmpM32, 0, 0); else Set(ref d, Op.JmpR32, R32(ins.Op0Register), 0);
                return;
            case Code.Call_rm32:
                if (mem0) Set(ref d, Op.CallM32, 0, 0); else Set(ref d, Op.CallR32, R32(ins.Op0Register), 0);
                return;
            case Code.Xchg_rm32_r32 when !mem0:
            case Code.Xchg_r32_EAX:
                Set(ref d, Op.XchgRR32, R32(ins.Op0Register), R32(ins.Op1Register)); return;
        }

        if (ins.IsJccShortOrNear)
        {
            Branch(in ins, ref d, Op.Jcc, (byte)ConditionCode(ins.ConditionCode));
            return;
        }
        if (IsSetcc(ins.Mnemonic) && !mem0)
        {
            Set(ref d, Op.Setcc, R8(ins.Op0Register), 0); d.Sub = (byte)ConditionCode(ins.ConditionCode); return;
        }
        if (IsCmovcc(ins.Mnemonic) && !mem1 && ins.Op0Register.IsGPR32())
        {
            Set(ref d, Op.Cmov32, R32(ins.Op0Register), R32(ins.Op1Register)); d.Sub = (byte)ConditionCode(ins.ConditionCode); return;
        }

        int alu = AluIndex(ins.Mnemonic);
        if (alu >= 0) { BuildAlu(in ins, ref d, alu, mem0, mem1); return; }

        if (ins.Code is Code.Shl_rm32_imm8 or Code.Shr_rm32_imm8 or Code.Sar_rm32_imm8 && !mem0)
        {
            Set(ref d, Op.ShiftRI32, R32(ins.Op0Register), 0);
            d.Sub = (byte)(ins.Mnemonic == Mnemonic.Shl ? 4 : ins.Mnemonic == Mnemonic.Shr ? 5 : 7);
            d.Imm = ins.Immediate8;
        }
        else if (ins.Code is Code.Shl_rm32_CL or Code.Shr_rm32_CL or Code.Sar_rm32_CL && !mem0)
        {
            Set(ref d, Op.ShiftRC32, R32(ins.Op0Register), 1);
            d.Sub = (byte)(ins.Mnemonic == Mnemonic.Shl ? 4 : ins.Mnemonic == Mnemonic.Shr ? 5 : 7);
        }
    }

    private static bool IsSetcc(Mnemonic m) => m is Mnemonic.Seto or Mnemonic.Setno or Mnemonic.Setb or Mnemonic.Setae or Mnemonic.Sete
        or Mnemonic.Setne or Mnemonic.Setbe or Mnemonic.Seta or Mnemonic.Sets or Mnemonic.Setns or Mnemonic.Setp or Mnemonic.Setnp
        or Mnemonic.Setl or Mnemonic.Setge or Mnemonic.Setle or Mnemonic.Setg;

    private static bool IsCmovcc(Mnemonic m) => m is Mnemonic.Cmovo or Mnemonic.Cmovno or Mnemonic.Cmovb or Mnemonic.Cmovae or Mnemonic.Cmove
        or Mnemonic.Cmovne or Mnemonic.Cmovbe or Mnemonic.Cmova or Mnemonic.Cmovs or Mnemonic.Cmovns or Mnemonic.Cmovp or Mnemonic.Cmovnp
        or Mnemonic.Cmovl or Mnemonic.Cmovge or Mnemonic.Cmovle or Mnemonic.Cmovg;

    private static void BuildAlu(in Instruction ins, ref DecodedOp d, int alu, bool mem0, bool mem1)
    {
        d.Sub = (byte)alu;
        Register r0 = ins.Op0Kind == OpKind.Register ? ins.Op0Register : Register.None;
        bool imm = ins.OpCount > 1 && ins.Op1Kind is OpKind.Immediate8 or OpKind.Immediate32 or OpKind.Immediate8to32;
        if (ins.OpCount != 2) return;
        bool is32 = mem0 ? ins.MemorySize is MemorySize.UInt32 or MemorySize.Int32 : r0.IsGPR32();
        bool is8 = mem0 ? ins.MemorySize is MemorySize.UInt8 or MemorySize.Int8 : r0.IsGPR8();
        if (is32)
        {
            if (imm) { d.Imm = (uint)ins.GetImmediate(1); if (mem0) Set(ref d, Op.AluMI32, 0, 0); else Set(ref d, Op.AluRI32, R32(r0), 0); }
            else if (mem0) Set(ref d, Op.AluMR32, 0, R32(ins.Op1Register));
            else if (mem1) Set(ref d, Op.AluRM32, R32(r0), 0);
            else Set(ref d, Op.AluRR32, R32(r0), R32(ins.Op1Register));
            if (d.Op == Op.AluRR32 && alu is not (2 or 3)) d.Op = Specialised(alu, Op.AddRR32);
            if (d.Op == Op.AluRI32 && alu is not (2 or 3)) d.Op = Specialised(alu, Op.AddRI32);
        }
        else if (is8)
        {
            if (imm) { d.Imm = (uint)ins.GetImmediate(1) & 0xFF; if (mem0) Set(ref d, Op.AluMI8, 0, 0); else Set(ref d, Op.AluRI8, R8(r0), 0); }
            else if (mem0) return; // RMW byte with register source: generic
            else if (mem1) Set(ref d, Op.AluRM8, R8(r0), 0);
            else Set(ref d, Op.AluRR8, R8(r0), R8(ins.Op1Register));
        }
    }

    /// <summary>Maps ALU operation alu (not ADC/SBB) onto the run of specialised handlers starting at first.</summary>
    private static Op Specialised(int alu, Op first) => first + alu switch
    {
        0 => 0,
        5 => 1,
        7 => 2,
        4 => 3,
        1 => 4,
        6 => 5,
        _ => 6,
    };

    private static int AluIndex(Mnemonic m) => m switch
    {
        Mnemonic.Add => 0,
        Mnemonic.Or => 1,
        Mnemonic.Adc => 2,
        Mnemonic.Sbb => 3,
        Mnemonic.And => 4,
        Mnemonic.Sub => 5,
        Mnemonic.Xor => 6,
        Mnemonic.Cmp => 7,
        Mnemonic.Test => 8,
        _ => -1,
    };

    private static void Branch(in Instruction ins, ref DecodedOp d, Op op, byte cc)
    {
        d.Op = op;
        d.Sub = cc;
        ulong next = ins.NextIP;
        ulong target = ins.NearBranchTarget;
        d.Imm = (uint)(target - next);
        d.Dst = (byte)(ins.Op0Kind == OpKind.NearBranch16 ? 16 : 32);
    }

    private static void Set(ref DecodedOp d, Op op, byte dst, byte src)
    {
        d.Op = op;
        d.Dst = dst;
        d.Src = src;
    }

    private static bool IsGpr(Register r) => r.IsGPR32() || r.IsGPR16();

    internal static byte GprIndex(Register r) => (byte)(r.IsGPR32() ? r - Register.EAX : r - Register.AX);

    private static byte R32(Register r) => (byte)(r - Register.EAX);

    private static byte R8(Register r) => (byte)(r - Register.AL);

    /// <summary>Iced's ConditionCode to the x86 encoding's condition nibble.</summary>
    internal static int ConditionCode(ConditionCode cc) => cc switch
    {
        Iced.Intel.ConditionCode.o => 0,
        Iced.Intel.ConditionCode.no => 1,
        Iced.Intel.ConditionCode.b => 2,
        Iced.Intel.ConditionCode.ae => 3,
        Iced.Intel.ConditionCode.e => 4,
        Iced.Intel.ConditionCode.ne => 5,
        Iced.Intel.ConditionCode.be => 6,
        Iced.Intel.ConditionCode.a => 7,
        Iced.Intel.ConditionCode.s => 8,
        Iced.Intel.ConditionCode.ns => 9,
        Iced.Intel.ConditionCode.p => 10,
        Iced.Intel.ConditionCode.np => 11,
        Iced.Intel.ConditionCode.l => 12,
        Iced.Intel.ConditionCode.ge => 13,
        Iced.Intel.ConditionCode.le => 14,
        _ => 15,
    };
}
