using System.Reflection.Emit;
using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation;

// Static lazy flags: the compiler knows which op last set the flags; its operands live in the
// locals _lfA, _lfB, _lfRes. Conditions read them directly; the CPU's lazy-flag fields are written
// only when state leaves the method (Materialize). Dead local stores are the JIT's to drop.
internal sealed partial class BlockCompiler
{
    private enum Producer : byte { Fields, Add, Sub, Logic, Inc, Dec, Shift, Imul }

    /// <summary>
    /// Who holds the flags: the CPU's fields (<see cref="Producer.Fields"/>; IsEntry when they are
    /// the state the block was entered with), or a producer of Bits width with operands in locals.
    /// A shift by an immediate (ShiftKind, ShiftCount) keeps its input in _lfA: its irregular flags
    /// are produced only if something reads them, by running the interpreter's Shift again.
    /// </summary>
    private readonly record struct FlagState(Producer Kind, int Bits, bool IsEntry, int ShiftKind = 0, int ShiftCount = 0)
    {
        public static readonly FlagState Entry = new(Producer.Fields, 32, true);
        public static readonly FlagState Fields = new(Producer.Fields, 32, false);
    }

    private FlagState _flagState;
    private bool _entryFlagsUsed;
    private LocalBuilder _lfA = null!, _lfB = null!, _lfRes = null!;

    /// <summary>
    /// The current flags are about to be read through the fields. If those are the entry state, a
    /// loop must write its flags back on the back edge so the next pass reads the right ones.
    /// </summary>
    private void UseFlags()
    {
        if (_flagState.IsEntry) _entryFlagsUsed = true;
    }

    /// <summary>Writes a static flag state into the CPU's lazy-flag fields.</summary>
    private void Materialize(FlagState f)
    {
        if (f.IsEntry) _entryFlagsUsed = true;
        if (f.Kind == Producer.Fields) return;
        if (f.Kind == Producer.Shift)
        {
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, f.ShiftKind); _il.Emit(OpCodes.Ldloc, _lfA);
            _il.Emit(OpCodes.Ldc_I4, f.ShiftCount); _il.Emit(OpCodes.Ldc_I4, 32);
            _il.Emit(OpCodes.Call, s_shift); _il.Emit(OpCodes.Pop);
            return;
        }
        if (f.Kind == Producer.Imul)
        {
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB); _il.Emit(OpCodes.Ldc_I4, 32);
            _il.Emit(OpCodes.Call, s_imul); _il.Emit(OpCodes.Pop);
            return;
        }
        var (op, b) = f.Kind switch
        {
            Producer.Add => (LazyOp.Add, _lfB),
            Producer.Sub => (LazyOp.Sub, _lfB),
            Producer.Logic => (LazyOp.Logic, null),
            Producer.Inc => (LazyOp.Inc, null),
            _ => (LazyOp.Dec, (LocalBuilder?)null),
        };
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, (int)op); _il.Emit(OpCodes.Stfld, s_lfOp);
        _il.Emit(OpCodes.Ldarg_0);
        if (f.Kind == Producer.Logic) _il.Emit(OpCodes.Ldc_I4_0); else _il.Emit(OpCodes.Ldloc, _lfA);
        _il.Emit(OpCodes.Stfld, s_lfA);
        _il.Emit(OpCodes.Ldarg_0);
        if (b != null) _il.Emit(OpCodes.Ldloc, b); else _il.Emit(f.Kind == Producer.Logic ? OpCodes.Ldc_I4_0 : OpCodes.Ldc_I4_1);
        _il.Emit(OpCodes.Stfld, s_lfB);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Stfld, s_lfRes);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, f.Bits == 32 ? -1 : (1 << f.Bits) - 1); _il.Emit(OpCodes.Stfld, s_lfMask);
    }

    /// <summary>Records a new producer; its a, b (unused for logic and inc/dec) and res are already in the locals.</summary>
    private void SetProducer(Producer kind, int bits) => _flagState = new FlagState(kind, bits, false);

    /// <summary>INC/DEC keep CF: freezes the current producer's CF into the EFLAGS word.</summary>
    private void EmitFreezeCarry()
    {
        var f = _flagState;
        if (f.Kind is Producer.Inc or Producer.Dec) return;
        if (f.Kind is Producer.Fields or Producer.Shift or Producer.Imul || (f.Bits != 32 && f.Kind != Producer.Logic))
        {
            UseFlags();
            Materialize(f);
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Call, s_freezeCarry);
            return;
        }
        // _flags = (_flags & ~CF) | CF(producer)
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_flags); _il.Emit(OpCodes.Ldc_I4, ~1); _il.Emit(OpCodes.And);
        if (f.Kind != Producer.Logic) { EmitCarry(f.Kind); _il.Emit(OpCodes.Or); }
        _il.Emit(OpCodes.Stfld, s_flags);
    }

    /// <summary>Pushes CF (0/1) of a 32-bit producer.</summary>
    private void EmitCarry(Producer kind)
    {
        switch (kind)
        {
            case Producer.Add: _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Clt_Un); break;
            case Producer.Sub: _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB); _il.Emit(OpCodes.Clt_Un); break;
            case Producer.Logic: _il.Emit(OpCodes.Ldc_I4_0); break;
            default: _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldfld, s_flags); _il.Emit(OpCodes.Ldc_I4_1); _il.Emit(OpCodes.And); break;
        }
    }

    private void EmitZero() { _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ceq); }

    private void EmitSign() { _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Ldc_I4, 31); _il.Emit(OpCodes.Shr_Un); }

    private void EmitOverflow(Producer kind)
    {
        switch (kind)
        {
            case Producer.Add: // ((a ^ r) & (b ^ r)) >> 31
                _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Xor);
                _il.Emit(OpCodes.Ldloc, _lfB); _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Xor);
                _il.Emit(OpCodes.And); _il.Emit(OpCodes.Ldc_I4, 31); _il.Emit(OpCodes.Shr_Un);
                break;
            case Producer.Sub: // ((a ^ b) & (a ^ r)) >> 31
                _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB); _il.Emit(OpCodes.Xor);
                _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Xor);
                _il.Emit(OpCodes.And); _il.Emit(OpCodes.Ldc_I4, 31); _il.Emit(OpCodes.Shr_Un);
                break;
            case Producer.Inc: _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Ldc_I4, int.MinValue); _il.Emit(OpCodes.Ceq); break;
            case Producer.Dec: _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Ldc_I4, int.MaxValue); _il.Emit(OpCodes.Ceq); break;
            default: _il.Emit(OpCodes.Ldc_I4_0); break;
        }
    }

    /// <summary>Pushes condition cc (0-15, the Jcc/SETcc/CMOVcc nibble) as 0 or 1.</summary>
    private void EmitCondition(int cc)
    {
        var f = _flagState;
        if (f.Kind == Producer.Fields || f.Bits != 32 || (f.Kind is Producer.Shift or Producer.Imul && (cc >> 1) is not (2 or 4 or 5)))
        {
            UseFlags();
            Materialize(f);
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldc_I4, cc); _il.Emit(OpCodes.Call, s_condition);
            return;
        }
        var k = f.Kind;
        if (k == Producer.Sub && (cc >> 1) is 1 or 3 or 6 or 7)
        {
            // After CMP/SUB the unsigned and signed orderings are one compare of the operands.
            _il.Emit(OpCodes.Ldloc, _lfA); _il.Emit(OpCodes.Ldloc, _lfB);
            switch (cc >> 1)
            {
                case 1: _il.Emit(OpCodes.Clt_Un); break;                                    // a <u b
                case 3: _il.Emit(OpCodes.Cgt_Un); _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ceq); break; // a <=u b
                case 6: _il.Emit(OpCodes.Clt); break;                                       // a <s b
                default: _il.Emit(OpCodes.Cgt); _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ceq); break;   // a <=s b
            }
        }
        else
        {
            switch (cc >> 1)
            {
                case 0: EmitOverflow(k); break;
                case 1: EmitCarry(k); break;
                case 2: EmitZero(); break;
                case 3: EmitCarry(k); EmitZero(); _il.Emit(OpCodes.Or); break;
                case 4: EmitSign(); break;
                case 5: _il.Emit(OpCodes.Ldloc, _lfRes); _il.Emit(OpCodes.Call, s_parity); break;
                case 6: EmitSign(); EmitOverflow(k); _il.Emit(OpCodes.Xor); break;
                default: EmitZero(); EmitSign(); EmitOverflow(k); _il.Emit(OpCodes.Xor); _il.Emit(OpCodes.Or); break;
            }
        }
        if ((cc & 1) != 0) { _il.Emit(OpCodes.Ldc_I4_0); _il.Emit(OpCodes.Ceq); }
    }
}
