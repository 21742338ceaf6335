using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Near and far JMP/CALL/RET, call gates with privilege change, and the entry to task switches.
public sealed partial class Cpu
{
    private void ExecJmp(in Instruction ins)
    {
        switch (ins.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
                _nextEip = NearTarget(in ins);
                return;
            case OpKind.FarBranch16:
                FarJump(ins.FarBranchSelector, ins.FarBranch16, 2);
                return;
            case OpKind.FarBranch32:
                FarJump(ins.FarBranchSelector, ins.FarBranch32, 4);
                return;
        }
        if (ins.Code is Code.Jmp_m1616 or Code.Jmp_m1632)
        {
            int size = ins.Code == Code.Jmp_m1632 ? 4 : 2;
            (uint off, ushort sel) = ReadFarPointer(in ins, size);
            FarJump(sel, off, size);
            return;
        }
        int bits = OpBits(in ins, 0);
        _nextEip = CheckNearTarget(ReadOperand(in ins, 0, bits));
    }

    private void ExecCall(in Instruction ins)
    {
        switch (ins.Op0Kind)
        {
            case OpKind.NearBranch16:
                {
                    uint t = NearTarget(in ins);
                    Push16((ushort)_nextEip);
                    _nextEip = t;
                    return;
                }
            case OpKind.NearBranch32:
                {
                    uint t = NearTarget(in ins);
                    Push32(_nextEip);
                    _nextEip = t;
                    return;
                }
            case OpKind.FarBranch16: FarCall(ins.FarBranchSelector, ins.FarBranch16, 2); return;
            case OpKind.FarBranch32: FarCall(ins.FarBranchSelector, ins.FarBranch32, 4); return;
        }
        if (ins.Code is Code.Call_m1616 or Code.Call_m1632)
        {
            int size = ins.Code == Code.Call_m1632 ? 4 : 2;
            (uint off, ushort sel) = ReadFarPointer(in ins, size);
            FarCall(sel, off, size);
            return;
        }
        int bits = OpBits(in ins, 0);
        uint target = CheckNearTarget(ReadOperand(in ins, 0, bits));
        Push(_nextEip, bits / 8);
        _nextEip = target;
    }

    private (uint Offset, ushort Selector) ReadFarPointer(in Instruction ins, int size)
    {
        int seg = MemSeg(in ins);
        uint ea = EffectiveAddress(in ins);
        uint off = size == 4 ? Read32(seg, ea) : Read16(seg, ea);
        ushort sel = Read16(seg, ea + (uint)size);
        return (off, sel);
    }

    private void ExecRetNear(in Instruction ins)
    {
        int size = ins.Code is Code.Retnd or Code.Retnd_imm16 ? 4 : 2;
        uint t = PeekStack(0, size);
        CheckNearTarget(t);
        AdjustSp(size + (ins.OpCount > 0 ? ins.Immediate16 : 0));
        _nextEip = t;
    }

    internal void FarJump(ushort sel, uint off, int size)
    {
        if (size == 2) off &= 0xFFFF;
        if (!ProtectedMode || V86Mode)
        {
            if (off > Seg[SegmentIndex.CS].Limit && !V86Mode && off > 0xFFFF) throw Fault(Vectors.GP, 0);
            LoadCsReal(sel);
            _nextEip = off;
            return;
        }
        if ((sel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(sel);
        var desc = ParseDescriptor(sel, d);
        uint err = (uint)sel & 0xFFFC;
        if (!desc.IsSystem)
        {
            CheckDirectCodeTarget(desc, sel);
            if (off > desc.Limit) throw Fault(Vectors.GP, 0);
            LoadCodeSegment(sel, d, Cpl);
            _nextEip = off;
            return;
        }
        switch (desc.Type)
        {
            case 4:
            case 0xC: // call gate
                {
                    var (csSel, cd, code, target) = GateTarget(sel, d, desc);
                    // JMP never changes privilege: a nonconforming target must be at CPL exactly.
                    if (!code.IsConforming && code.Dpl != Cpl) throw Fault(Vectors.GP, (uint)csSel & 0xFFFC);
                    if (target > code.Limit) throw Fault(Vectors.GP, 0);
                    LoadCodeSegment(csSel, cd, Cpl);
                    _nextEip = target;
                    return;
                }
            case 5: // task gate
            case 1:
            case 9: // available TSS
                TaskSwitchThrough(sel, d, TaskSwitchReason.Jump, _nextEip);
                _nextEip = EipReg; // the new task runs from its saved EIP, not after this JMP
                return;
            default:
                throw Fault(Vectors.GP, err);
        }
    }

    private void CheckDirectCodeTarget(SegmentRegister desc, ushort sel)
    {
        uint err = (uint)sel & 0xFFFC;
        if (!desc.IsCode) throw Fault(Vectors.GP, err);
        if (desc.IsConforming) { if (desc.Dpl > Cpl) throw Fault(Vectors.GP, err); }
        else if ((sel & 3) > Cpl || desc.Dpl != Cpl) throw Fault(Vectors.GP, err);
        if (!desc.Present) throw Fault(Vectors.NP, err);
    }

    internal void FarCall(ushort sel, uint off, int size)
    {
        if (size == 2) off &= 0xFFFF;
        if (!ProtectedMode || V86Mode)
        {
            ushort oldCs = Seg[SegmentIndex.CS].Selector;
            ProbePushes(2, size);
            Push(oldCs, size);
            Push(_nextEip, size);
            LoadCsReal(sel);
            _nextEip = off;
            return;
        }
        if ((sel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(sel);
        var desc = ParseDescriptor(sel, d);
        uint err = (uint)sel & 0xFFFC;
        if (!desc.IsSystem)
        {
            CheckDirectCodeTarget(desc, sel);
            ProbePushes(2, size);
            if (off > desc.Limit) throw Fault(Vectors.GP, 0);
            Push(Seg[SegmentIndex.CS].Selector, size);
            Push(_nextEip, size);
            LoadCodeSegment(sel, d, Cpl);
            _nextEip = off;
            return;
        }
        switch (desc.Type)
        {
            case 4:
            case 0xC:
                CallGate(sel, d, desc);
                return;
            case 5:
            case 1:
            case 9:
                TaskSwitchThrough(sel, d, TaskSwitchReason.Call, _nextEip);
                _nextEip = EipReg; // the new task runs from its saved EIP, not after this CALL
                return;
            default:
                throw Fault(Vectors.GP, err);
        }
    }

    /// <summary>
    /// The checks JMP and CALL share for a call gate: the gate's DPL and presence, then the code
    /// segment it names (a code segment at or above CPL's privilege, present). Callers add their own
    /// privilege rule for nonconforming targets and check the offset against the new limit.
    /// </summary>
    private (ushort Selector, ulong Raw, SegmentRegister Code, uint Target) GateTarget(ushort gateSel, ulong gd, SegmentRegister gate)
    {
        uint gerr = (uint)gateSel & 0xFFFC;
        if (gate.Dpl < Cpl || gate.Dpl < (gateSel & 3)) throw Fault(Vectors.GP, gerr);
        if (!gate.Present) throw Fault(Vectors.NP, gerr);
        ushort csSel = (ushort)(gd >> 16);
        uint target = (uint)(gd & 0xFFFF) | (gate.Type == 0xC ? (uint)(gd >> 32) & 0xFFFF_0000 : 0);
        if ((csSel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        ulong cd = ReadDescriptor(csSel);
        var code = ParseDescriptor(csSel, cd);
        uint cerr = (uint)csSel & 0xFFFC;
        if (code.IsSystem || !code.IsCode || code.Dpl > Cpl) throw Fault(Vectors.GP, cerr);
        if (!code.Present) throw Fault(Vectors.NP, cerr);
        return (csSel, cd, code, target);
    }

    private void CallGate(ushort gateSel, ulong gd, SegmentRegister gate)
    {
        var (csSel, cd, code, target) = GateTarget(gateSel, gd, gate);
        int size = gate.Type == 0xC ? 4 : 2;
        int paramCount = (int)(gd >> 32) & 0x1F;

        ushort oldCs = Seg[SegmentIndex.CS].Selector;
        uint oldEip = _nextEip;
        if (!code.IsConforming && code.Dpl < Cpl)
        {
            // More privileged: switch to the inner stack from the TSS and copy the parameters.
            int newCpl = code.Dpl;
            (ushort ss, uint esp) = StackFromTss(newCpl);
            var ssDesc = CheckStackSegment(ss, newCpl, Vectors.TS);
            if (target > code.Limit) throw Fault(Vectors.GP, 0);
            ushort oldSs = Seg[SegmentIndex.SS].Selector;
            uint oldEsp = R[4];
            uint oldSsBase = Seg[SegmentIndex.SS].Base;
            uint oldMask = StackMask;
            uint[] parms = new uint[paramCount];
            for (int i = 0; i < paramCount; i++)
                parms[i] = size == 4 ? ReadLin32(oldSsBase + ((oldEsp + (uint)(4 * i)) & oldMask)) : ReadLin16(oldSsBase + ((oldEsp + (uint)(2 * i)) & oldMask));
            var savedSs = Seg[SegmentIndex.SS];
            uint savedEsp = R[4];
            int savedCpl = Cpl;
            try
            {
                SetCpl(newCpl);
                Seg[SegmentIndex.SS] = ssDesc;
                Seg[SegmentIndex.SS].Selector = ss;
                SegmentChanged(SegmentIndex.SS);
                R[4] = ssDesc.Big ? esp : esp & 0xFFFF;
                Push(oldSs, size);
                Push(oldEsp, size);
                for (int i = paramCount - 1; i >= 0; i--) Push(parms[i], size);
                Push(oldCs, size);
                Push(oldEip, size);
            }
            catch (GuestFault)
            {
                SetCpl(savedCpl);
                Seg[SegmentIndex.SS] = savedSs;
                SegmentChanged(SegmentIndex.SS);
                R[4] = savedEsp;
                throw;
            }
            LoadCodeSegment(csSel, cd, newCpl);
        }
        else
        {
            ProbePushes(2, size);
            if (target > code.Limit) throw Fault(Vectors.GP, 0);
            Push(oldCs, size);
            Push(oldEip, size);
            LoadCodeSegment(csSel, cd, Cpl);
        }
        _nextEip = target;
    }

    internal void ExecRetFar(int size, uint popBytes)
    {
        uint off = PeekStack(0, size);
        ushort sel = (ushort)PeekStack((uint)size, size);
        if (!ProtectedMode || V86Mode)
        {
            if (size == 2) off &= 0xFFFF;
            if (off > Seg[SegmentIndex.CS].Limit) throw Fault(Vectors.GP, 0);
            AdjustSp(2 * size + (int)popBytes);
            LoadCsReal(sel);
            _nextEip = off;
            return;
        }
        if ((sel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        ulong d = ReadDescriptor(sel);
        var desc = ParseDescriptor(sel, d);
        uint err = (uint)sel & 0xFFFC;
        int rpl = sel & 3;
        if (desc.IsSystem || !desc.IsCode || rpl < Cpl) throw Fault(Vectors.GP, err);
        if (desc.IsConforming ? desc.Dpl > rpl : desc.Dpl != rpl) throw Fault(Vectors.GP, err);
        if (!desc.Present) throw Fault(Vectors.NP, err);
        if (size == 2) off &= 0xFFFF;
        if (rpl == Cpl)
        {
            if (off > desc.Limit) throw Fault(Vectors.GP, 0);
            AdjustSp(2 * size + (int)popBytes);
            LoadCodeSegment(sel, d, Cpl);
            _nextEip = off;
            return;
        }
        // Return to an outer level: the caller's SS:ESP follows the parameters.
        uint newEsp = PeekStack((uint)(2 * size + popBytes), size);
        ushort newSs = (ushort)PeekStack((uint)(3 * size + popBytes), size);
        var ssDesc = CheckStackSegment(newSs, rpl, Vectors.GP);
        if (off > desc.Limit) throw Fault(Vectors.GP, 0);
        LoadCodeSegment(sel, d, rpl);
        Seg[SegmentIndex.SS] = ssDesc;
        Seg[SegmentIndex.SS].Selector = newSs;
        SegmentChanged(SegmentIndex.SS);
        if (ssDesc.Big) R[4] = newEsp + popBytes; else SetReg16(4, (ushort)(newEsp + popBytes));
        NullInaccessibleDataSegments();
        _nextEip = off;
    }
}
