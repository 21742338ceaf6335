using System.Reflection.Emit;
using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation;

// The block's last op when it is a near control transfer. A branch back to the block's own start
// stays inside the method (the loop); every other target leaves with EipReg set.
internal sealed partial class BlockCompiler
{
    private void EmitBranch(int i, ref DecodedOp d)
    {
        uint next = _b.OffsetOf(N);
        switch (d.Op)
        {
            case Op.Jcc:
                {
                    var notTaken = _il.DefineLabel();
                    EmitCondition(d.Sub);
                    _il.Emit(OpCodes.Brfalse, notTaken);
                    EmitTaken(i, d.Imm);
                    _il.MarkLabel(notTaken);
                    LoadEipAt(next);
                    ExitWithTargetOnStack(N);
                    break;
                }
            case Op.Jmp:
                EmitTaken(i, d.Imm);
                break;
            case Op.Call32:
                LoadEipAt(next); EmitPush(i);
                LoadEipAt(next); LdImm(d.Imm); _il.Emit(OpCodes.Add);
                ExitWithTargetOnStack(N);
                break;
            case Op.Ret32:
                EmitPeek(i);
                EmitTargetCheck(i, _val);
                Ld(4); _il.Emit(OpCodes.Ldc_I4, 4 + (int)d.Imm); _il.Emit(OpCodes.Add); St(4);
                _il.Emit(OpCodes.Ldloc, _val);
                ExitWithTargetOnStack(N);
                break;
            case Op.JmpR32:
                Ld(d.Dst); _il.Emit(OpCodes.Stloc, _next);
                EmitTargetCheck(i, _next);
                _il.Emit(OpCodes.Ldloc, _next);
                ExitWithTargetOnStack(N);
                break;
            case Op.JmpM32:
                EmitEa(ref d); EmitRead(i, d.Seg, 4);
                EmitTargetCheck(i, _val);
                _il.Emit(OpCodes.Ldloc, _val);
                ExitWithTargetOnStack(N);
                break;
            case Op.CallR32:
            case Op.CallM32:
                if (d.Op == Op.CallR32) Ld(d.Dst);
                else { EmitEa(ref d); EmitRead(i, d.Seg, 4); _il.Emit(OpCodes.Ldloc, _val); }
                _il.Emit(OpCodes.Stloc, _next);
                EmitTargetCheck(i, _next);
                LoadEipAt(next); EmitPush(i);
                _il.Emit(OpCodes.Ldloc, _next);
                ExitWithTargetOnStack(N);
                break;
            default:
                throw new InvalidOperationException($"not a branch: {d.Op}");
        }
    }

    /// <summary>JMP/Jcc taken to next + rel: the back edge when that is the block's start, else an exit.</summary>
    private void EmitTaken(int i, uint rel)
    {
        if (rel == unchecked((uint)-(int)_b.OffsetOf(N)))
        {
            EmitBackEdge();
            return;
        }
        LoadEipAt(_b.OffsetOf(N)); LdImm(rel); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Stloc, _next);
        EmitTargetCheck(i, _next);
        _il.Emit(OpCodes.Ldloc, _next);
        ExitWithTargetOnStack(N);
    }

    /// <summary>
    /// The loop stays in the method: count the pass, stop when the budget is used, and every 64
    /// passes ask whether an interrupt, NMI or stop request needs the run loop. The block start
    /// passed the CS limit check when the loop was entered and CS cannot change inside it.
    /// </summary>
    private void EmitBackEdge()
    {
        var exit = _il.DefineLabel();
        _il.Emit(OpCodes.Ldloc, _done); _il.Emit(OpCodes.Ldc_I8, (long)N); _il.Emit(OpCodes.Add); _il.Emit(OpCodes.Stloc, _done);
        // The next pass starts by reading the fields (see UseFlags): bring them up to date.
        if (_entryFlagsUsed) Materialize(_flagState);
        _il.Emit(OpCodes.Ldloc, _iters); _il.Emit(OpCodes.Ldc_I8, 1L); _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Dup); _il.Emit(OpCodes.Stloc, _iters);
        _il.Emit(OpCodes.Brfalse, exit);
        _il.Emit(OpCodes.Ldloc, _iters); _il.Emit(OpCodes.Ldc_I8, 63L); _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Brtrue, _loopHead);
        _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Call, s_eventPending);
        _il.Emit(OpCodes.Brfalse, _loopHead);
        _il.MarkLabel(exit);
        LoadEipAt(0);
        ExitWithTargetOnStack(0);
    }

    /// <summary>A near target beyond the CS limit raises #GP(0) at op i before anything changes.</summary>
    private void EmitTargetCheck(int i, LocalBuilder target)
    {
        var fault = _il.DefineLabel();
        var ok = _il.DefineLabel();
        _il.Emit(OpCodes.Ldloc, target); _il.Emit(OpCodes.Ldloc, _csLimit); _il.Emit(OpCodes.Bgt_Un, fault);
        _il.MarkLabel(ok);
        var flags = _flagState;
        UseFlags();
        _stubs.Add(() =>
        {
            _il.MarkLabel(fault);
            Spill(i, flags);
            _il.Emit(OpCodes.Ldarg_0); _il.Emit(OpCodes.Ldloc, target); _il.Emit(OpCodes.Call, s_nearTargetFault);
            _il.Emit(OpCodes.Br, ok);
        });
    }
}
