using System.Buffers.Binary;
using System.Numerics;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// The reference executor: every integer instruction, from Iced's decoded form. Cold code runs
// here; the compact handlers in Cpu.Run.cs cover the hot simple forms with the same helpers.
public sealed partial class Cpu
{
    private void ExecuteGeneric(in Instruction ins)
    {
        switch (ins.Mnemonic)
        {
            // ---- Data movement ----
            case Mnemonic.Mov: ExecMov(in ins); break;
            case Mnemonic.Movzx:
                {
                    int sb = OpBits(in ins, 1);
                    WriteOperand(in ins, 0, OpBits(in ins, 0), ReadOperand(in ins, 1, sb));
                    break;
                }
            case Mnemonic.Movsx:
                {
                    int sb = OpBits(in ins, 1);
                    uint v = ReadOperand(in ins, 1, sb);
                    v = sb == 8 ? (uint)(sbyte)v : (uint)(short)v;
                    WriteOperand(in ins, 0, OpBits(in ins, 0), v);
                    break;
                }
            case Mnemonic.Xchg:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    ProbeOperand(in ins, 1, bits);
                    uint a = ReadOperand(in ins, 0, bits), b = ReadOperand(in ins, 1, bits);
                    WriteOperand(in ins, 0, bits, b);
                    WriteOperand(in ins, 1, bits, a);
                    break;
                }
            case Mnemonic.Lea: WriteOperand(in ins, 0, OpBits(in ins, 0), EffectiveAddress(in ins)); break;
            case Mnemonic.Push: ExecPush(in ins); break;
            case Mnemonic.Pop: ExecPop(in ins); break;
            case Mnemonic.Pusha: case Mnemonic.Pushad: ExecPusha(ins.Mnemonic == Mnemonic.Pushad ? 4 : 2); break;
            case Mnemonic.Popa: case Mnemonic.Popad: ExecPopa(ins.Mnemonic == Mnemonic.Popad ? 4 : 2); break;
            case Mnemonic.Pushf: case Mnemonic.Pushfd: ExecPushf(ins.Mnemonic == Mnemonic.Pushfd ? 4 : 2); break;
            case Mnemonic.Popf: case Mnemonic.Popfd: ExecPopf(ins.Mnemonic == Mnemonic.Popfd ? 4 : 2); break;
            case Mnemonic.Lahf: SetReg8(4, (byte)(GetEflags() | 2)); break;
            case Mnemonic.Sahf:
                SetArithFlags((GetEflags() & Flags.OF) | ((uint)GetReg8(4) & (Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF)));
                break;
            case Mnemonic.Cbw: SetReg16(0, (ushort)(sbyte)R[0]); break;
            case Mnemonic.Cwde: R[0] = (uint)(short)R[0]; break;
            case Mnemonic.Cwd: SetReg16(2, (ushort)((R[0] & 0x8000) != 0 ? 0xFFFF : 0)); break;
            case Mnemonic.Cdq: R[2] = (R[0] & 0x8000_0000) != 0 ? 0xFFFF_FFFF : 0; break;
            case Mnemonic.Xlatb:
                {
                    uint ea = (ins.MemoryBase == Register.BX ? R[3] & 0xFFFF : R[3]) + (R[0] & 0xFF);
                    if (ins.MemoryBase == Register.BX) ea &= 0xFFFF;
                    SetReg8(0, Read8(MemSeg(in ins), ea));
                    break;
                }
            case Mnemonic.Bswap: { int i = s_gprIndex[(int)ins.Op0Register]; R[i] = BinaryPrimitives.ReverseEndianness(R[i]); break; }
            case Mnemonic.Lds: ExecLoadFarPointer(in ins, SegmentIndex.DS); break;
            case Mnemonic.Les: ExecLoadFarPointer(in ins, SegmentIndex.ES); break;
            case Mnemonic.Lfs: ExecLoadFarPointer(in ins, SegmentIndex.FS); break;
            case Mnemonic.Lgs: ExecLoadFarPointer(in ins, SegmentIndex.GS); break;
            case Mnemonic.Lss: ExecLoadFarPointer(in ins, SegmentIndex.SS); break;
            case Mnemonic.Enter: ExecEnter(in ins); break;
            case Mnemonic.Leave:
                {
                    int size = ins.Code == Code.Leavew ? 2 : 4;
                    uint bp = R[5] & StackMask;
                    uint v = size == 4 ? Read32(SegmentIndex.SS, bp) : Read16(SegmentIndex.SS, bp);
                    SetSp(bp + (uint)size);
                    if (size == 4) R[5] = v; else SetReg16(5, (ushort)v);
                    break;
                }
            case Mnemonic.Nop:
            case Mnemonic.Pause:
            case Mnemonic.Endbr32:
            case Mnemonic.Endbr64:
            case Mnemonic.Reservednop:
            case Mnemonic.Prefetchnta:
            case Mnemonic.Prefetcht0:
            case Mnemonic.Prefetcht1:
            case Mnemonic.Prefetcht2:
                break;

            // ---- Arithmetic ----
            case Mnemonic.Add: AluGeneric(in ins, 0); break;
            case Mnemonic.Or: AluGeneric(in ins, 1); break;
            case Mnemonic.Adc: AluGeneric(in ins, 2); break;
            case Mnemonic.Sbb: AluGeneric(in ins, 3); break;
            case Mnemonic.And: AluGeneric(in ins, 4); break;
            case Mnemonic.Sub: AluGeneric(in ins, 5); break;
            case Mnemonic.Xor: AluGeneric(in ins, 6); break;
            case Mnemonic.Cmp: AluGeneric(in ins, 7); break;
            case Mnemonic.Test: AluGeneric(in ins, 8); break;
            case Mnemonic.Inc:
            case Mnemonic.Dec:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    uint a = ReadOperand(in ins, 0, bits);
                    WriteOperand(in ins, 0, bits, IncDec(a, ins.Mnemonic == Mnemonic.Dec, bits));
                    break;
                }
            case Mnemonic.Neg:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    WriteOperand(in ins, 0, bits, Neg(ReadOperand(in ins, 0, bits), bits));
                    break;
                }
            case Mnemonic.Not:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    WriteOperand(in ins, 0, bits, ~ReadOperand(in ins, 0, bits) & SizeMask(bits));
                    break;
                }
            case Mnemonic.Mul: { int bits = OpBits(in ins, 0); MulAcc(ReadOperand(in ins, 0, bits), bits, false); break; }
            case Mnemonic.Imul:
                {
                    if (ins.OpCount == 1) { int bits = OpBits(in ins, 0); MulAcc(ReadOperand(in ins, 0, bits), bits, true); }
                    else
                    {
                        int bits = OpBits(in ins, 0);
                        uint a = ins.OpCount == 3 ? ReadOperand(in ins, 1, bits) : ReadOperand(in ins, 0, bits);
                        uint b = ins.OpCount == 3 ? ReadOperand(in ins, 2, bits) : ReadOperand(in ins, 1, bits);
                        WriteOperand(in ins, 0, bits, IMul(a, b, bits));
                    }
                    break;
                }
            case Mnemonic.Div: { int bits = OpBits(in ins, 0); DivAcc(ReadOperand(in ins, 0, bits), bits, false); break; }
            case Mnemonic.Idiv: { int bits = OpBits(in ins, 0); DivAcc(ReadOperand(in ins, 0, bits), bits, true); break; }
            case Mnemonic.Daa: Daa(); break;
            case Mnemonic.Das: Das(); break;
            case Mnemonic.Aaa: Aaa(false); break;
            case Mnemonic.Aas: Aaa(true); break;
            case Mnemonic.Aam: Aam(ins.Immediate8); break;
            case Mnemonic.Aad: Aad(ins.Immediate8); break;
            case Mnemonic.Salc: SetReg8(0, GetCF() ? (byte)0xFF : (byte)0); break;
            case Mnemonic.Cmpxchg: ExecCmpxchg(in ins); break;
            case Mnemonic.Cmpxchg8b: ExecCmpxchg8b(in ins); break;
            case Mnemonic.Xadd:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    uint a = ReadOperand(in ins, 0, bits), b = ReadOperand(in ins, 1, bits);
                    uint sum = Alu(0, a, b, bits);
                    WriteOperand(in ins, 1, bits, a);
                    WriteOperand(in ins, 0, bits, sum);
                    break;
                }

            // ---- Shifts and bits ----
            case Mnemonic.Rol: ShiftGeneric(in ins, 0); break;
            case Mnemonic.Ror: ShiftGeneric(in ins, 1); break;
            case Mnemonic.Rcl: ShiftGeneric(in ins, 2); break;
            case Mnemonic.Rcr: ShiftGeneric(in ins, 3); break;
            case Mnemonic.Shl: ShiftGeneric(in ins, 4); break;
            case Mnemonic.Sal: ShiftGeneric(in ins, 6); break;
            case Mnemonic.Shr: ShiftGeneric(in ins, 5); break;
            case Mnemonic.Sar: ShiftGeneric(in ins, 7); break;
            case Mnemonic.Shld:
            case Mnemonic.Shrd:
                {
                    int bits = OpBits(in ins, 0);
                    ProbeOperand(in ins, 0, bits);
                    uint count = (ins.Op2Kind == OpKind.Register ? R[1] : ins.Immediate8) & 31;
                    uint res = DoubleShift(ins.Mnemonic == Mnemonic.Shld, ReadOperand(in ins, 0, bits), ReadOperand(in ins, 1, bits), count, bits);
                    WriteOperand(in ins, 0, bits, res);
                    break;
                }
            case Mnemonic.Bt: ExecBitTest(in ins, 0); break;
            case Mnemonic.Bts: ExecBitTest(in ins, 1); break;
            case Mnemonic.Btr: ExecBitTest(in ins, 2); break;
            case Mnemonic.Btc: ExecBitTest(in ins, 3); break;
            // F3 0F BC/BD are TZCNT/LZCNT only on BMI1/ABM CPUs; on an i686 the REP prefix is ignored
            // and they are BSF/BSR (Linux's __ffs uses "rep; bsf" on purpose, relying on exactly that).
            case Mnemonic.Bsf:
            case Mnemonic.Bsr:
            case Mnemonic.Tzcnt:
            case Mnemonic.Lzcnt:
                {
                    int bits = OpBits(in ins, 0);
                    uint src = ReadOperand(in ins, 1, bits);
                    uint f = GetEflags() & ~Flags.Arith;
                    if (src == 0) { f |= Flags.ZF; SetArithFlags(f); break; }
                    uint idx = ins.Mnemonic is Mnemonic.Bsf or Mnemonic.Tzcnt ? (uint)BitOperations.TrailingZeroCount(src) : (uint)(31 - BitOperations.LeadingZeroCount(src));
                    WriteOperand(in ins, 0, bits, idx);
                    SetSzpFlags(idx, bits, false, false);
                    SetFlag(Flags.ZF, false);
                    break;
                }

            // ---- Conditional ----
            case Mnemonic.Cmovo:
            case Mnemonic.Cmovno:
            case Mnemonic.Cmovb:
            case Mnemonic.Cmovae:
            case Mnemonic.Cmove:
            case Mnemonic.Cmovne:
            case Mnemonic.Cmovbe:
            case Mnemonic.Cmova:
            case Mnemonic.Cmovs:
            case Mnemonic.Cmovns:
            case Mnemonic.Cmovp:
            case Mnemonic.Cmovnp:
            case Mnemonic.Cmovl:
            case Mnemonic.Cmovge:
            case Mnemonic.Cmovle:
            case Mnemonic.Cmovg:
                {
                    int bits = OpBits(in ins, 0);
                    uint v = ReadOperand(in ins, 1, bits); // the source is read (and may fault) whatever the condition
                    if (Condition(CompactForm.ConditionCode(ins.ConditionCode))) WriteOperand(in ins, 0, bits, v);
                    break;
                }
            case Mnemonic.Seto:
            case Mnemonic.Setno:
            case Mnemonic.Setb:
            case Mnemonic.Setae:
            case Mnemonic.Sete:
            case Mnemonic.Setne:
            case Mnemonic.Setbe:
            case Mnemonic.Seta:
            case Mnemonic.Sets:
            case Mnemonic.Setns:
            case Mnemonic.Setp:
            case Mnemonic.Setnp:
            case Mnemonic.Setl:
            case Mnemonic.Setge:
            case Mnemonic.Setle:
            case Mnemonic.Setg:
                WriteOperand(in ins, 0, 8, Condition(CompactForm.ConditionCode(ins.ConditionCode)) ? 1u : 0u);
                break;

            // ---- Flags ----
            case Mnemonic.Clc: SetFlag(Flags.CF, false); break;
            case Mnemonic.Stc: SetFlag(Flags.CF, true); break;
            case Mnemonic.Cmc: SetFlag(Flags.CF, !GetCF()); break;
            case Mnemonic.Cld: _flags &= ~Flags.DF; break;
            case Mnemonic.Std: _flags |= Flags.DF; break;
            case Mnemonic.Cli: ExecCli(); break;
            case Mnemonic.Sti: ExecSti(); break;

            // ---- Control transfer ----
            case Mnemonic.Jmp: ExecJmp(in ins); break;
            case Mnemonic.Call: ExecCall(in ins); break;
            case Mnemonic.Ret: ExecRetNear(in ins); break;
            case Mnemonic.Retf: ExecRetFar(ins.Code is Code.Retfd or Code.Retfd_imm16 ? 4 : 2, ins.OpCount > 0 ? ins.Immediate16 : 0u); break;
            case Mnemonic.Iret: case Mnemonic.Iretd: ExecIret(ins.Mnemonic == Mnemonic.Iretd ? 4 : 2); break;
            case Mnemonic.Jo:
            case Mnemonic.Jno:
            case Mnemonic.Jb:
            case Mnemonic.Jae:
            case Mnemonic.Je:
            case Mnemonic.Jne:
            case Mnemonic.Jbe:
            case Mnemonic.Ja:
            case Mnemonic.Js:
            case Mnemonic.Jns:
            case Mnemonic.Jp:
            case Mnemonic.Jnp:
            case Mnemonic.Jl:
            case Mnemonic.Jge:
            case Mnemonic.Jle:
            case Mnemonic.Jg:
                if (Condition(CompactForm.ConditionCode(ins.ConditionCode))) _nextEip = NearTarget(in ins);
                break;
            case Mnemonic.Jcxz:
            case Mnemonic.Jecxz:
                if ((ins.Mnemonic == Mnemonic.Jcxz ? R[1] & 0xFFFF : R[1]) == 0) _nextEip = NearTarget(in ins);
                break;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne: ExecLoop(in ins); break;
            case Mnemonic.Int: SoftwareInterrupt(ins.Immediate8, InterruptKind.Software); break;
            case Mnemonic.Int3: SoftwareInterrupt(Vectors.BP, InterruptKind.SoftwareException); break;
            case Mnemonic.Int1: SoftwareInterrupt(Vectors.DB, InterruptKind.Icebp); break;
            case Mnemonic.Into: if (GetOF()) SoftwareInterrupt(Vectors.OF, InterruptKind.SoftwareException); break;
            case Mnemonic.Bound: ExecBound(in ins); break;
            case Mnemonic.Hlt:
                if (Cpl != 0) throw Fault(Vectors.GP, 0);
                _halted = true;
                _exitBlock = true;
                break;

            // ---- Strings and I/O ----
            case Mnemonic.Movsb:
            case Mnemonic.Movsw:
            case Mnemonic.Movsd:
            case Mnemonic.Cmpsb:
            case Mnemonic.Cmpsw:
            case Mnemonic.Cmpsd:
            case Mnemonic.Scasb:
            case Mnemonic.Scasw:
            case Mnemonic.Scasd:
            case Mnemonic.Lodsb:
            case Mnemonic.Lodsw:
            case Mnemonic.Lodsd:
            case Mnemonic.Stosb:
            case Mnemonic.Stosw:
            case Mnemonic.Stosd:
            case Mnemonic.Insb:
            case Mnemonic.Insw:
            case Mnemonic.Insd:
            case Mnemonic.Outsb:
            case Mnemonic.Outsw:
            case Mnemonic.Outsd:
                ExecString(in ins);
                break;
            case Mnemonic.In: ExecIn(in ins); break;
            case Mnemonic.Out: ExecOut(in ins); break;

            // ---- System ----
            case Mnemonic.Lgdt:
            case Mnemonic.Lidt:
            case Mnemonic.Sgdt:
            case Mnemonic.Sidt:
            case Mnemonic.Lldt:
            case Mnemonic.Sldt:
            case Mnemonic.Ltr:
            case Mnemonic.Str:
            case Mnemonic.Lmsw:
            case Mnemonic.Smsw:
            case Mnemonic.Clts:
            case Mnemonic.Arpl:
            case Mnemonic.Lar:
            case Mnemonic.Lsl:
            case Mnemonic.Verr:
            case Mnemonic.Verw:
            case Mnemonic.Invlpg:
            case Mnemonic.Invd:
            case Mnemonic.Wbinvd:
            case Mnemonic.Cpuid:
            case Mnemonic.Rdtsc:
            case Mnemonic.Rdmsr:
            case Mnemonic.Wrmsr:
            case Mnemonic.Rdpmc:
            case Mnemonic.Sysenter:
            case Mnemonic.Sysexit:
                ExecSystem(in ins);
                break;

            case Mnemonic.Vmcall: ExecVmcall(); break;
            case Mnemonic.Rsm: ExecRsm(); break; // the guest firmware's resume (Cpu.Firmware.cs); #UD elsewhere

            case Mnemonic.Wait:
                CheckFpuWait();
                break;

            default:
                if (IsFpu(in ins)) { ExecFpu(in ins); break; }
                throw Fault(Vectors.UD);
        }
    }

    private void ExecMov(in Instruction ins)
    {
        if (ins.Op0Kind == OpKind.Register)
        {
            Register r0 = ins.Op0Register;
            if (r0.IsSegmentRegister())
            {
                int seg = r0 - Register.ES;
                if (seg == SegmentIndex.CS) throw Fault(Vectors.UD);
                LoadSegment(seg, (ushort)ReadOperand(in ins, 1, 16));
                if (seg == SegmentIndex.SS) _shadow = _movSsShadow = true;
                _exitBlock = true;
                return;
            }
            if (r0.IsCR() || r0.IsDR()) { ExecMovToControl(in ins); return; }
        }
        if (ins.Op1Kind == OpKind.Register)
        {
            Register r1 = ins.Op1Register;
            if (r1.IsSegmentRegister())
            {
                // MOV r/m, Sreg: a 32-bit register destination gets the selector zero-extended; memory is always 16 bits.
                uint sel = Seg[r1 - Register.ES].Selector;
                if (ins.Op0Kind == OpKind.Register) WriteReg(ins.Op0Register, sel);
                else Write16(MemSeg(in ins), EffectiveAddress(in ins), (ushort)sel);
                return;
            }
            if (r1.IsCR() || r1.IsDR()) { ExecMovFromControl(in ins); return; }
        }
        int bits = OpBits(in ins, 0);
        WriteOperand(in ins, 0, bits, ReadOperand(in ins, 1, bits));
    }

    private void AluGeneric(in Instruction ins, int op)
    {
        int bits = OpBits(in ins, 0);
        uint b = ReadOperand(in ins, 1, bits);
        if (op >= 7)
        {
            Alu(op, ReadOperand(in ins, 0, bits), b, bits);
            return;
        }
        ProbeOperand(in ins, 0, bits);
        uint res = Alu(op, ReadOperand(in ins, 0, bits), b, bits);
        WriteOperand(in ins, 0, bits, res & SizeMask(bits));
    }

    private void ShiftGeneric(in Instruction ins, int kind)
    {
        int bits = OpBits(in ins, 0);
        uint count = ins.Op1Kind == OpKind.Register ? R[1] & 0x1F : ins.Op1Kind == OpKind.Immediate8 ? ins.Immediate8 & 0x1Fu : 1u;
        ProbeOperand(in ins, 0, bits);
        uint a = ReadOperand(in ins, 0, bits);
        uint res = Shift(kind, a, count, bits);
        if (count != 0) WriteOperand(in ins, 0, bits, res);
    }

    private void ExecBitTest(in Instruction ins, int kind)
    {
        int bits = OpBits(in ins, 0);
        uint bitOffset = ReadOperand(in ins, 1, bits);
        uint cfMask;
        if (ins.Op0Kind == OpKind.Register)
        {
            int bit = (int)(bitOffset & (uint)(bits - 1));
            uint v = ReadReg(ins.Op0Register);
            cfMask = (v >> bit) & 1;
            if (kind != 0) WriteReg(ins.Op0Register, BitOp(kind, v, bit));
        }
        else
        {
            // A register bit offset addresses a bit string: it may reach outside the operand (signed).
            uint ea = EffectiveAddress(in ins);
            int bit;
            if (ins.Op1Kind == OpKind.Register)
            {
                int off = bits == 16 ? (short)bitOffset : (int)bitOffset;
                ea += (uint)((off >> (bits == 16 ? 4 : 5)) * (bits / 8));
                if (AddressSize16(in ins)) ea &= 0xFFFF;
                bit = off & (bits - 1);
            }
            else bit = (int)(bitOffset & (uint)(bits - 1));
            int seg = MemSeg(in ins);
            if (kind != 0) ProbeWrite(seg, ea, bits / 8);
            uint v = ReadMem(seg, ea, bits);
            cfMask = (v >> bit) & 1;
            if (kind != 0) WriteMem(seg, ea, bits, BitOp(kind, v, bit));
        }
        SetFlag(Flags.CF, cfMask != 0);
    }

    private static uint BitOp(int kind, uint v, int bit) => kind switch
    {
        1 => v | (1u << bit),
        2 => v & ~(1u << bit),
        _ => v ^ (1u << bit),
    };

    private void ExecCmpxchg(in Instruction ins)
    {
        int bits = OpBits(in ins, 0);
        ProbeOperand(in ins, 0, bits);
        uint dest = ReadOperand(in ins, 0, bits);
        uint acc = R[0] & SizeMask(bits);
        Alu(7, acc, dest, bits);
        if (acc == dest) WriteOperand(in ins, 0, bits, ReadOperand(in ins, 1, bits));
        else
        {
            WriteOperand(in ins, 0, bits, dest); // the processor always writes the destination
            WriteReg(bits == 8 ? Register.AL : bits == 16 ? Register.AX : Register.EAX, dest);
        }
    }

    private void ExecCmpxchg8b(in Instruction ins)
    {
        if (ins.Op0Kind != OpKind.Memory) throw Fault(Vectors.UD);
        int seg = MemSeg(in ins);
        uint ea = EffectiveAddress(in ins);
        ProbeWrite(seg, ea, 8);
        ulong v = Read64(seg, ea);
        ulong cmp = (ulong)R[2] << 32 | R[0];
        if (v == cmp)
        {
            Write64(seg, ea, (ulong)R[1] << 32 | R[3]);
            SetFlag(Flags.ZF, true);
        }
        else
        {
            Write64(seg, ea, v);
            R[0] = (uint)v; R[2] = (uint)(v >> 32);
            SetFlag(Flags.ZF, false);
        }
    }

    private void ExecPush(in Instruction ins)
    {
        int size = StackOpSize(in ins);
        uint v;
        if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister()) v = Seg[ins.Op0Register - Register.ES].Selector;
        else if (ins.Op0Kind == OpKind.Register && ins.Op0Register is Register.SP or Register.ESP) v = R[4]; // the value before the push
        else v = ReadOperand(in ins, 0, size * 8);
        Push(v, size);
    }

    private void ExecPop(in Instruction ins)
    {
        int size = StackOpSize(in ins);
        if (ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
        {
            int seg = ins.Op0Register - Register.ES;
            uint sel = PeekStack(0, size);
            // The pop increments eSP by the stack size in force when it read the selector: POP SS
            // that switches between a 16- and a 32-bit stack must not apply the new size (SDM POP:
            // StackAddrSize is the old SS.B; Bochs pops before it loads). Nothing changes if the load faults.
            bool oldBig = Stack32;
            uint sp = (R[4] + (uint)size) & StackMask;
            LoadSegment(seg, (ushort)sel);
            R[4] = oldBig ? sp : (R[4] & 0xFFFF_0000) | sp;
            if (seg == SegmentIndex.SS) _shadow = _movSsShadow = true;
            _exitBlock = true;
            return;
        }
        uint v = PeekStack(0, size);
        if (ins.Op0Kind == OpKind.Memory)
        {
            // POP m: ESP is incremented before the effective address is computed (an ESP base sees the new value).
            uint oldEsp = R[4];
            AdjustSp(size);
            try { WriteOperand(in ins, 0, size * 8, v); }
            catch { R[4] = oldEsp; throw; }
            return;
        }
        AdjustSp(size);
        WriteOperand(in ins, 0, size * 8, v);
    }

    private void ExecPusha(int size)
    {
        uint sp = R[4];
        ProbePushes(8, size); // a 16-bit SP wraps inside the segment between pushes (SP=8 is legal)
        for (int i = 0; i < 8; i++) Push(i == 4 ? sp : R[i], size);
    }

    private void ExecPopa(int size)
    {
        uint[] v = new uint[8];
        for (int i = 0; i < 8; i++) v[7 - i] = PeekStack((uint)(i * size), size);
        for (int i = 0; i < 8; i++)
        {
            if (i == 4) continue; // the saved ESP is discarded
            if (size == 4) R[i] = v[i]; else SetReg16(i, (ushort)v[i]);
        }
        AdjustSp(8 * size);
    }

    private void ExecEnter(in Instruction ins)
    {
        int size = ins.Code == Code.Enterw_imm16_imm8 ? 2 : 4;
        uint allocSize = ins.Immediate16;
        int level = ins.Immediate8_2nd & 31;
        uint mask = StackMask;
        uint frameTemp = (R[4] - (uint)size) & mask;
        // The pushes move ESP one by one; a fault part-way restores it, so ENTER restarts cleanly.
        uint oldEsp = R[4];
        try
        {
            Push(R[5], size);
            if (level > 0)
            {
                uint bp = R[5];
                for (int i = 1; i < level; i++)
                {
                    bp -= (uint)size;
                    uint v = size == 4 ? Read32(SegmentIndex.SS, bp & mask) : Read16(SegmentIndex.SS, bp & mask);
                    Push(v, size);
                }
                Push(frameTemp, size);
            }
        }
        catch (GuestFault)
        {
            R[4] = oldEsp;
            throw;
        }
        if (size == 4) R[5] = frameTemp; else SetReg16(5, (ushort)frameTemp);
        SetSp((R[4] - allocSize) & mask);
    }

    private void ExecLoadFarPointer(in Instruction ins, int seg)
    {
        if (ins.Op1Kind != OpKind.Memory) throw Fault(Vectors.UD);
        int bits = OpBits(in ins, 0);
        int ms = MemSeg(in ins);
        uint ea = EffectiveAddress(in ins);
        uint off = ReadMem(ms, ea, bits);
        ushort sel = Read16(ms, ea + (uint)(bits / 8));
        LoadSegment(seg, sel);
        WriteReg(ins.Op0Register, off);
        if (seg == SegmentIndex.SS) _shadow = true;
    }

    private void ExecBound(in Instruction ins)
    {
        int bits = OpBits(in ins, 0);
        if (ins.Op1Kind != OpKind.Memory) throw Fault(Vectors.UD);
        int seg = MemSeg(in ins);
        uint ea = EffectiveAddress(in ins);
        int idx, lo, hi;
        if (bits == 16) { idx = (short)ReadReg(ins.Op0Register); lo = (short)Read16(seg, ea); hi = (short)Read16(seg, ea + 2); }
        else { idx = (int)ReadReg(ins.Op0Register); lo = (int)Read32(seg, ea); hi = (int)Read32(seg, ea + 4); }
        if (idx < lo || idx > hi) throw Fault(Vectors.BR);
    }

    private void ExecLoop(in Instruction ins)
    {
        bool cx16 = ins.Code is Code.Loop_rel8_16_CX or Code.Loop_rel8_32_CX or Code.Loope_rel8_16_CX or Code.Loope_rel8_32_CX
            or Code.Loopne_rel8_16_CX or Code.Loopne_rel8_32_CX;
        uint count = cx16 ? (R[1] - 1) & 0xFFFF : R[1] - 1;
        if (cx16) SetReg16(1, (ushort)count); else R[1] = count;
        bool take = count != 0 && ins.Mnemonic switch
        {
            Mnemonic.Loope => GetZF(),
            Mnemonic.Loopne => !GetZF(),
            _ => true,
        };
        if (take) _nextEip = NearTarget(in ins);
    }

    /// <summary>A near branch target, wrapped to the operand size and checked against the CS limit.</summary>
    private uint NearTarget(in Instruction ins)
    {
        uint t = ins.Op0Kind == OpKind.NearBranch16 ? (uint)((ins.NearBranch16 - (uint)ins.NextIP16 + _nextEip) & 0xFFFF)
            : (uint)ins.NearBranch32 - (uint)ins.NextIP32 + _nextEip;
        return CheckNearTarget(t);
    }
}
