using System.Reflection.Emit;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu.Translation;

// The inline forms: the compact ops the interpreter has fast handlers for, as IL over locals.
internal sealed partial class BlockCompiler
{
    /// <summary>True when op i is emitted inline; false sends it to the reference executor.</summary>
    private bool IsInline(ref DecodedOp d, int i)
    {
        switch (d.Op)
        {
            case Op.Generic:
                return _extras[i].Kind != Extra.None;
            case Op.AluMR32:
            case Op.AluMI32:
            case Op.AluMI8:
                return d.Sub is not (2 or 3); // ADC/SBB to memory: the executor (probe before the carry-in is used)
            case Op.Jcc:
            case Op.Jmp:
                return d.Dst == 32 && i == N - 1;
            case Op.Call32:
            case Op.Ret32:
            case Op.JmpR32:
            case Op.CallR32:
            case Op.JmpM32:
            case Op.CallM32:
                return i == N - 1;
            default:
                return true;
        }
    }

    private static bool IsBranch(Op op) => op is Op.Jcc or Op.Jmp or Op.Call32 or Op.Ret32 or Op.JmpR32 or Op.CallR32 or Op.JmpM32 or Op.CallM32;

    private static bool HasMemoryOperand(Op op) => op is Op.MovRM32 or Op.MovMR32 or Op.MovMI32 or Op.MovRM8 or Op.MovMR8
        or Op.MovzxRM8 or Op.MovzxRM16 or Op.AluRM32 or Op.AluMR32 or Op.AluMI32 or Op.AluRM8 or Op.AluMI8 or Op.JmpM32 or Op.CallM32 or Op.Lea32;

    private static bool UsesStack(Op op) => op is Op.PushR32 or Op.PopR32 or Op.PushI32 or Op.Call32 or Op.Ret32 or Op.CallR32 or Op.CallM32;

    private static int Bit(int r) => 1 << r;
    private static int Bit8(int r) => 1 << (r & 3);

    /// <summary>Registers (bit masks over the 32-bit registers) an inline op reads and writes, besides its address.</summary>
    private static (int Reads, int Writes) RegisterUse(ref DecodedOp d) => d.Op switch
    {
        Op.MovRR32 => (Bit(d.Src), Bit(d.Dst)),
        Op.MovRI32 or Op.MovRM32 or Op.MovzxRM8 or Op.MovzxRM16 or Op.Lea32 or Op.PopR32 => (0, Bit(d.Dst)),
        Op.MovMR32 or Op.AluMR32 => (Bit(d.Src), 0),
        Op.MovRM8 => (Bit8(d.Dst), Bit8(d.Dst)),
        Op.MovMR8 => (Bit8(d.Src), 0),
        Op.MovzxRR8 => (Bit8(d.Src), Bit(d.Dst)),
        Op.AluRR32 or Op.AddRR32 or Op.SubRR32 or Op.AndRR32 or Op.OrRR32 or Op.XorRR32 or Op.CmpRR32 or Op.TestRR32 or Op.XchgRR32
            => (Bit(d.Dst) | Bit(d.Src), Bit(d.Dst) | (d.Op == Op.XchgRR32 ? Bit(d.Src) : 0)),
        Op.AluRI32 or Op.AluRM32 or Op.AddRI32 or Op.SubRI32 or Op.AndRI32 or Op.OrRI32 or Op.XorRI32 or Op.CmpRI32 or Op.TestRI32
            or Op.IncR32 or Op.DecR32 or Op.ShiftRI32 => (Bit(d.Dst), Bit(d.Dst)),
        Op.ShiftRC32 => (Bit(d.Dst) | Bit(1), Bit(d.Dst)),
        Op.AluRR8 => (Bit8(d.Dst) | Bit8(d.Src), Bit8(d.Dst)),
        Op.AluRI8 or Op.AluRM8 or Op.Setcc => (Bit8(d.Dst), Bit8(d.Dst)),
        Op.Cmov32 => (Bit(d.Dst) | Bit(d.Src), Bit(d.Dst)),
        Op.PushR32 or Op.JmpR32 or Op.CallR32 => (Bit(d.Dst), 0),
        _ => (0, 0),
    };

    // ---- registers ----

    private void Ld(int r) => _il.Emit(OpCodes.Ldloc, _reg[r]!);

    private void St(int r) => _il.Emit(OpCodes.Stloc, _reg[r]!);

    private void LdImm(uint v) => _il.Emit(OpCodes.Ldc_I4, unchecked((int)v));

    /// <summary>Pushes 8-bit register i (AL..BL, AH..BH) zero-extended.</summary>
    private void Ld8(int i)
    {
        Ld(i & 3);
        if (i >= 4) { _il.Emit(OpCodes.Ldc_I4_8); _il.Emit(OpCodes.Shr_Un); }
        _il.Emit(OpCodes.Conv_U1);
    }

    /// <summary>Stores the value on the stack (any width; the low byte is used) into 8-bit register i.</summary>
    private void St8(int i)
    {
        _il.Emit(OpCodes.Conv_U1);
        if (i >= 4) { _il.Emit(OpCodes.Ldc_I4_8); _il.Emit(OpCodes.Shl); }
        Ld(i & 3);
        LdImm(i >= 4 ? 0xFFFF_00FFu : 0xFFFF_FF00u);
        _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Or);
        St(i & 3);
    }

    /// <summary>ea = the op's effective address (offset within its segment).</summary>
    private void EmitEa(ref DecodedOp d)
    {
        LdImm(d.Disp);
        if (d.Base != DecodedOp.NoReg) { Ld(d.Base); _il.Emit(OpCodes.Add); }
        if (d.Index != DecodedOp.NoReg)
        {
            Ld(d.Index);
            if (d.Scale != 0) { _il.Emit(OpCodes.Ldc_I4, (int)d.Scale); _il.Emit(OpCodes.Shl); }
            _il.Emit(OpCodes.Add);
        }
        if (d.Addr16 != 0) { _il.Emit(OpCodes.Ldc_I4, 0xFFFF); _il.Emit(OpCodes.And); }
        _il.Emit(OpCodes.Stloc, _ea);
    }

    // ---- memory: the TLB fast path inline, the interpreter's accessor in a cold stub ----

    /// <summary>
    /// Leaves in _entry the TLB entry for seg:_ea and branches to slow unless it hits for size bytes
    /// within one page. _la = the linear address.
    /// </summary>
    private void EmitTlbProbe(int seg, int size, LocalBuilder tlb, Label slow)
    {
        _il.Emit(OpCodes.Ldloc, _segBase[seg]!); _il.Emit(OpCodes.Ldloc, _ea); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Stloc, _la);
        _il.Emit(OpCodes.Ldloc, tlb);
        _il.Emit(OpCodes.Ldloc, _la); _il.Emit(OpCodes.Ldc_I4, 12); _il.Emit(OpCodes.Shr_Un);
        _il.Emit(OpCodes.Ldc_I4, Cpu.TlbMask); _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Ldelema, typeof(Mmu.TlbEntry));
        _il.Emit(OpCodes.Stloc, _entry);
        _il.Emit(OpCodes.Ldloc, _entry); _il.Emit(OpCodes.Ldfld, s_tlbTag);
        _il.Emit(OpCodes.Ldloc, _la); _il.Emit(OpCodes.Ldc_I4, 12); _il.Emit(OpCodes.Shr_Un);
        _il.Emit(OpCodes.Bne_Un, slow);
        if (size > 1)
        {
            _il.Emit(OpCodes.Ldloc, _la); _il.Emit(OpCodes.Ldc_I4, 0xFFF); _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Ldc_I4, 0x1000 - size);
            _il.Emit(OpCodes.Bgt_Un, slow);
        }
        // host address: entry.Host + (la & 0xFFF)
        _il.Emit(OpCodes.Ldloc, _entry); _il.Emit(OpCodes.Ldfld, s_tlbHost);
        _il.Emit(OpCodes.Ldloc, _la); _il.Emit(OpCodes.Ldc_I4, 0xFFF); _il.Emit(OpCodes.And); _il.Emit(OpCodes.Conv_U);
        _il.Emit(OpCodes.Add);
    }

    /// <summary>_val = read of size bytes at seg:_ea, for op i (faults precise at op i).</summary>
    private void EmitRead(int i, int seg, int size)
    {
        var slow = _il.DefineLabel();
        var done = _il.DefineLabel();
        EmitTlbProbe(seg, size, _tlbR, slow);
        _il.Emit(size switch { 1 => OpCodes.Ldind_U1, 2 => OpCodes.Ldind_U2, _ => OpCodes.Ldind_U4 });
        _il.Emit(OpCodes.Stloc, _val);
        _il.MarkLabel(done);
        var flags = _flagState;
        UseFlags();
        _stubs.Add(() =>
        {
            _il.MarkLabel(slow);
            Spill(i, flags);
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, seg); _il.Emit(OpCodes.Ldloc, _ea);
            _il.Emit(OpCodes.Call, size switch { 1 => s_read8, 2 => s_read16, _ => s_read32 });
            _il.Emit(OpCodes.Stloc, _val);
            _il.Emit(OpCodes.Br, done);
        });
    }

    /// <summary>Writes _wval (size bytes) at seg:_ea for op i; a slow store that hit code sets _smc.</summary>
    private void EmitWrite(int i, int seg, int size)
    {
        var slow = _il.DefineLabel();
        var done = _il.DefineLabel();
        EmitTlbProbe(seg, size, _tlbW, slow);
        _il.Emit(OpCodes.Ldloc, _wval);
        _il.Emit(size switch { 1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, _ => OpCodes.Stind_I4 });
        _il.MarkLabel(done);
        var flags = _flagState;
        UseFlags();
        _stubs.Add(() =>
        {
            _il.MarkLabel(slow);
            Spill(i, flags);
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, seg); _il.Emit(OpCodes.Ldloc, _ea); _il.Emit(OpCodes.Ldloc, _wval);
            if (size == 1) _il.Emit(OpCodes.Conv_U1); else if (size == 2) _il.Emit(OpCodes.Conv_U2);
            _il.Emit(OpCodes.Call, size switch { 1 => s_write8, 2 => s_write16, _ => s_write32 });
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_exitBlock); _il.Emit(OpCodes.Stloc, _smc);
            _il.Emit(OpCodes.Br, done);
        });
    }

    /// <summary>Pushes the value on the IL stack for op i (ESP in its local is updated after the store).</summary>
    private void EmitPush(int i)
    {
        _il.Emit(OpCodes.Stloc, _wval);
        Ld(4); _il.Emit(OpCodes.Ldc_I4_4); _il.Emit(OpCodes.Sub); _il.Emit(OpCodes.Stloc, _ea);
        EmitWrite(i, SegmentIndex.SS, 4);
        _il.Emit(OpCodes.Ldloc, _ea); St(4);
    }

    /// <summary>_val = the dword at SS:ESP (no ESP change).</summary>
    private void EmitPeek(int i)
    {
        Ld(4); _il.Emit(OpCodes.Stloc, _ea);
        EmitRead(i, SegmentIndex.SS, 4);
    }

    // ---- ALU ----

    /// <summary>a and b on the stack -> result of ALU op sub on the stack; lfA/lfB/lfRes set, producer recorded.</summary>
    private void EmitAlu(int sub, int bits)
    {
        _il.Emit(OpCodes.Stloc, _lfB);
        _il.Emit(OpCodes.Stloc, _lfA);
        _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB);
        Producer kind;
        switch (sub)
        {
            case 0: _il.Emit(OpCodes.Add); kind = Producer.Add; break;
            case 1: _il.Emit(OpCodes.Or); kind = Producer.Logic; break;
            case 4: case 8: _il.Emit(OpCodes.And); kind = Producer.Logic; break;
            case 6: _il.Emit(OpCodes.Xor); kind = Producer.Logic; break;
            default: _il.Emit(OpCodes.Sub); kind = Producer.Sub; break; // 5 sub, 7 cmp
        }
        _il.Emit(OpCodes.Stloc, _lfRes);
        SetProducer(kind, bits);
        _il.Emit(OpCodes.Ldloc, _lfRes);
    }

    private static int SpecialisedSub(Op op) => op switch
    {
        Op.AddRR32 or Op.AddRI32 => 0,
        Op.OrRR32 or Op.OrRI32 => 1,
        Op.AndRR32 or Op.AndRI32 => 4,
        Op.SubRR32 or Op.SubRI32 => 5,
        Op.XorRR32 or Op.XorRI32 => 6,
        Op.CmpRR32 or Op.CmpRI32 => 7,
        _ => 8,
    };

    /// <summary>Emits inline op i. Returns true when it stores to memory (the caller checks for code writes).</summary>
    private bool EmitInline(int i, ref DecodedOp d)
    {
        switch (d.Op)
        {
            case Op.Nop: return false;
            case Op.MovRR32: Ld(d.Src); St(d.Dst); return false;
            case Op.MovRI32: LdImm(d.Imm); St(d.Dst); return false;
            case Op.MovRM32: EmitEa(ref d); EmitRead(i, d.Seg, 4); _il.Emit(OpCodes.Ldloc, _val); St(d.Dst); return false;
            case Op.MovMR32: Ld(d.Src); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 4); return true;
            case Op.MovMI32: LdImm(d.Imm); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 4); return true;
            case Op.MovRM8: EmitEa(ref d); EmitRead(i, d.Seg, 1); _il.Emit(OpCodes.Ldloc, _val); St8(d.Dst); return false;
            case Op.MovMR8: Ld8(d.Src); _il.Emit(OpCodes.Stloc, _wval); EmitEa(ref d); EmitWrite(i, d.Seg, 1); return true;
            case Op.MovzxRM8: EmitEa(ref d); EmitRead(i, d.Seg, 1); _il.Emit(OpCodes.Ldloc, _val); St(d.Dst); return false;
            case Op.MovzxRR8: Ld8(d.Src); St(d.Dst); return false;
            case Op.MovzxRM16: EmitEa(ref d); EmitRead(i, d.Seg, 2); _il.Emit(OpCodes.Ldloc, _val); St(d.Dst); return false;

            case Op.AddRR32:
            case Op.SubRR32:
            case Op.CmpRR32:
            case Op.AndRR32:
            case Op.OrRR32:
            case Op.XorRR32:
            case Op.TestRR32:
                { byte src = d.Src; AluReg32(SpecialisedSub(d.Op), d.Dst, () => Ld(src)); return false; }
            case Op.AluRR32: { byte src = d.Src; AluReg32(d.Sub, d.Dst, () => Ld(src)); return false; }
            case Op.AddRI32:
            case Op.SubRI32:
            case Op.CmpRI32:
            case Op.AndRI32:
            case Op.OrRI32:
            case Op.XorRI32:
            case Op.TestRI32:
                { uint imm = d.Imm; AluReg32(SpecialisedSub(d.Op), d.Dst, () => LdImm(imm)); return false; }
            case Op.AluRI32: { uint imm = d.Imm; AluReg32(d.Sub, d.Dst, () => LdImm(imm)); return false; }
            case Op.AluRM32:
                EmitEa(ref d); EmitRead(i, d.Seg, 4);
                AluReg32(d.Sub, d.Dst, () => _il.Emit(OpCodes.Ldloc, _val)); return false;
            case Op.AluMR32:
            case Op.AluMI32:
                {
                    EmitEa(ref d); EmitRead(i, d.Seg, 4);
                    // Result first, store, then the flags: a faulting store leaves the old flags.
                    var a = _il.DeclareLocal(typeof(uint));
                    _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Stloc, a);
                    _il.Emit(OpCodes.Ldloc, a);
                    if (d.Op == Op.AluMR32) Ld(d.Src); else LdImm(d.Imm);
                    var b = _il.DeclareLocal(typeof(uint));
                    _il.Emit(OpCodes.Stloc, b);
                    _il.Emit(OpCodes.Ldloc, b);
                    if (d.Sub >= 7)
                    {
                        EmitAlu(d.Sub, 32); _il.Emit(OpCodes.Pop);
                        return false;
                    }
                    ComputeOnly(d.Sub);
                    _il.Emit(OpCodes.Stloc, _wval);
                    EmitWrite(i, d.Seg, 4);
                    _il.Emit(OpCodes.Ldloc, a); _il.Emit(OpCodes.Ldloc, b);
                    EmitAlu(d.Sub, 32); _il.Emit(OpCodes.Pop);
                    return true;
                }
            case Op.AluRR8: { byte src = d.Src; AluReg8(d.Sub, d.Dst, () => Ld8(src)); return false; }
            case Op.AluRI8: { uint imm = d.Imm; AluReg8(d.Sub, d.Dst, () => LdImm(imm)); return false; }
            case Op.AluRM8:
                EmitEa(ref d); EmitRead(i, d.Seg, 1);
                AluReg8(d.Sub, d.Dst, () => _il.Emit(OpCodes.Ldloc, _val)); return false;
            case Op.AluMI8:
                {
                    EmitEa(ref d); EmitRead(i, d.Seg, 1);
                    var a = _il.DeclareLocal(typeof(uint));
                    _il.Emit(OpCodes.Ldloc, _val); _il.Emit(OpCodes.Stloc, a);
                    if (d.Sub >= 7)
                    {
                        _il.Emit(OpCodes.Ldloc, a); LdImm(d.Imm); EmitAlu(d.Sub, 8); _il.Emit(OpCodes.Pop);
                        return false;
                    }
                    _il.Emit(OpCodes.Ldloc, a); LdImm(d.Imm); ComputeOnly(d.Sub);
                    _il.Emit(OpCodes.Stloc, _wval);
                    EmitWrite(i, d.Seg, 1);
                    _il.Emit(OpCodes.Ldloc, a); LdImm(d.Imm); EmitAlu(d.Sub, 8); _il.Emit(OpCodes.Pop);
                    return true;
                }

            case Op.IncR32:
            case Op.DecR32:
                EmitFreezeCarry();
                Ld(d.Dst); _il.Emit(OpCodes.Stloc, _lfA);
                _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldc_I4_1); _il.Emit(d.Op == Op.IncR32 ? OpCodes.Add : OpCodes.Sub);
                _il.Emit(OpCodes.Stloc, _lfRes);
                _il.Emit(OpCodes.Ldloc, _lfRes); St(d.Dst);
                SetProducer(d.Op == Op.IncR32 ? Producer.Inc : Producer.Dec, 32);
                return false;

            case Op.PushR32: Ld(d.Dst); EmitPush(i); return true;
            case Op.PushI32: LdImm(d.Imm); EmitPush(i); return true;
            case Op.PopR32:
                EmitPeek(i);
                Ld(4); _il.Emit(OpCodes.Ldc_I4_4); _il.Emit(OpCodes.Add); St(4);
                _il.Emit(OpCodes.Ldloc, _val); St(d.Dst);
                return false;
            case Op.Lea32: EmitEa(ref d); _il.Emit(OpCodes.Ldloc, _ea); St(d.Dst); return false;
            case Op.XchgRR32: Ld(d.Dst); Ld(d.Src); St(d.Dst); St(d.Src); return false;
            case Op.Setcc: EmitCondition(d.Sub); St8(d.Dst); return false;
            case Op.Cmov32:
                {
                    var skip = _il.DefineLabel();
                    EmitCondition(d.Sub);
                    _il.Emit(OpCodes.Brfalse, skip);
                    Ld(d.Src); St(d.Dst);
                    _il.MarkLabel(skip);
                    return false;
                }
            case Op.ShiftRI32:
                {
                    int count = (int)(d.Imm & 31);
                    if (count == 0) return false; // no result change, flags untouched
                    Ld(d.Dst); _il.Emit(OpCodes.Stloc, _lfA);
                    _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldc_I4, count);
                    _il.Emit(d.Sub switch { 4 => OpCodes.Shl, 5 => OpCodes.Shr_Un, _ => OpCodes.Shr });
                    _il.Emit(OpCodes.Stloc, _lfRes);
                    _il.Emit(OpCodes.Ldloc, _lfRes); St(d.Dst);
                    _flagState = new FlagState(Producer.Shift, 32, false, d.Sub, count);
                    return false;
                }

            case Op.ShiftRC32:
                // A count known only at run time (zero leaves the flags alone): the interpreter's Shift.
                UseFlags();
                Materialize(_flagState);
                _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, (int)d.Sub); Ld(d.Dst);
                Ld(1); _il.Emit(OpCodes.Ldc_I4, 31); _il.Emit(OpCodes.And); _il.Emit(OpCodes.Ldc_I4, 32);
                _il.Emit(OpCodes.Call, s_shift);
                St(d.Dst);
                _flagState = FlagState.Fields;
                return false;

            default:
                EmitBranch(i, ref d);
                return false;
        }
    }

    /// <summary>
    /// ADC/SBB: the carry-in makes the recorded operation depend on run-time flags, so the
    /// interpreter's Alu computes result and flags through the fields. Leaves the result on the stack.
    /// </summary>
    private void AluWithCarry(int dst, int bits, Action loadA, Action loadB, int sub)
    {
        UseFlags();
        Materialize(_flagState);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, sub); loadA(); loadB(); _il.Emit(OpCodes.Ldc_I4, bits);
        _il.Emit(OpCodes.Call, s_alu);
        _flagState = FlagState.Fields;
    }

    /// <summary>a and b on the stack -> result of the (non-flag-setting) operation; flags untouched.</summary>
    private void ComputeOnly(int sub)
    {
        _il.Emit(sub switch { 0 => OpCodes.Add, 1 => OpCodes.Or, 4 or 8 => OpCodes.And, 6 => OpCodes.Xor, _ => OpCodes.Sub });
    }

    private void AluReg32(int sub, int dst, Action loadB)
    {
        if (sub is 2 or 3) { AluWithCarry(dst, 32, () => Ld(dst), loadB, sub); St(dst); return; }
        Ld(dst); loadB();
        EmitAlu(sub, 32);
        if (sub < 7) St(dst); else _il.Emit(OpCodes.Pop);
    }

    private void AluReg8(int sub, int dst, Action loadB)
    {
        if (sub is 2 or 3) { AluWithCarry(dst, 8, () => Ld8(dst), loadB, sub); St8(dst); return; }
        Ld8(dst); loadB();
        EmitAlu(sub, 8);
        if (sub < 7) St8(dst); else _il.Emit(OpCodes.Pop);
    }
}
