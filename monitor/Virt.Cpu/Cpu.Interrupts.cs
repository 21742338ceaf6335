using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Exception and interrupt delivery: the real-mode IVT, protected-mode IDT gates (interrupt, trap,
// task) with the privilege-change stack switch through the TSS, virtual-8086 entry and exit,
// double faults and triple-fault shutdown; IRET in all its forms.
public sealed partial class Cpu
{
    /// <summary>Exceptions delivered, by vector (statistics and tests).</summary>
    public long[] ExceptionCounts { get; } = new long[32];

    /// <summary>Delivers a fault raised while executing at EipReg, escalating to #DF and shutdown per the SDM.</summary>
    private void DeliverFault(GuestFault f)
    {
        int vector = f.Vector;
        bool hasErr = f.HasErrorCode;
        uint err = f.ErrorCode;
        _shadow = false;
        while (true)
        {
            try
            {
                if (vector < 32) ExceptionCounts[vector]++;
                DeliverInterrupt(vector, InterruptKind.Exception, EipReg, hasErr, err);
                return;
            }
            catch (GuestFault f2)
            {
                if (vector == Vectors.DF)
                    throw new ShutdownException($"triple fault ({f2.Message} while delivering #DF) at {Seg[SegmentIndex.CS].Selector:X4}:{EipReg:X8}");
                int c1 = Vectors.FaultClass(vector), c2 = Vectors.FaultClass(f2.Vector);
                if ((c1 == 1 && c2 == 1) || (c1 == 2 && c2 != 0))
                {
                    vector = Vectors.DF; hasErr = true; err = 0;
                }
                else
                {
                    vector = f2.Vector; hasErr = f2.HasErrorCode; err = f2.ErrorCode;
                }
            }
        }
    }

    /// <summary>INT n / INT3 / INTO / INT1 from the instruction stream: returns to the next instruction.</summary>
    private void SoftwareInterrupt(int vector, InterruptKind kind)
    {
        if (V86Mode && kind == InterruptKind.Software && ((_flags >> 12) & 3) < 3) throw Fault(Vectors.GP, 0);
        DeliverInterrupt(vector, kind, _nextEip, false, 0);
        _nextEip = EipReg;
        _exitBlock = true;
    }

    /// <summary>The single-step trap after an instruction executed with TF set.</summary>
    private void DebugTrap()
    {
        Dr[6] |= 0x4000; // BS
        try
        {
            DeliverInterrupt(Vectors.DB, InterruptKind.Trap, EipReg, false, 0);
        }
        catch (GuestFault f)
        {
            DeliverFault(f);
        }
    }

    /// <summary>
    /// Transfers control to the handler for vector. returnEip is what the handler's IRET returns to.
    /// On a fault during delivery, the CPU state is as it was before (the caller escalates).
    /// </summary>
    internal void DeliverInterrupt(int vector, InterruptKind kind, uint returnEip, bool hasErr, uint err)
    {
        _eventLog?.Interrupt(vector, OriginOf(kind), err, hasErr);
        _halted = false;
        _interruptDelivered = true;
        if (!ProtectedMode) { DeliverReal(vector, returnEip); return; }

        uint ext = kind is InterruptKind.Exception or InterruptKind.Trap or InterruptKind.External or InterruptKind.Nmi or InterruptKind.Icebp ? 1u : 0u;
        uint idtErr = (uint)vector * 8 + 2 + ext;
        if ((uint)vector * 8 + 7 > Idtr.Limit) throw Fault(Vectors.GP, idtErr);
        ulong gate = ReadSys64(Idtr.Base + (uint)vector * 8);
        int type = (int)(gate >> 40) & 0x1F;
        int gateDpl = (int)(gate >> 45) & 3;
        bool present = (gate & (1UL << 47)) != 0;
        if (type is not (5 or 6 or 7 or 0xE or 0xF)) throw Fault(Vectors.GP, idtErr);
        if (kind is InterruptKind.Software or InterruptKind.SoftwareException && gateDpl < Cpl) throw Fault(Vectors.GP, idtErr);
        if (!present) throw Fault(Vectors.NP, idtErr);

        if (type == 5)
        {
            ushort tss = (ushort)(gate >> 16);
            TaskSwitchThrough(tss, ReadDescriptor((ushort)(tss & ~4), Vectors.TS), TaskSwitchReason.Interrupt, returnEip, hasErr, err, viaGate: false);
            _exitBlock = true;
            return;
        }

        bool gate32 = (type & 8) != 0;
        bool trapGate = (type & 1) != 0;
        int size = gate32 ? 4 : 2;
        ushort csSel = (ushort)(gate >> 16);
        uint target = (uint)(gate & 0xFFFF) | (gate32 ? (uint)(gate >> 32) & 0xFFFF_0000 : 0);
        if ((csSel & 0xFFFC) == 0) throw Fault(Vectors.GP, ext);
        ulong cd = ReadDescriptor(csSel);
        var code = ParseDescriptor(csSel, cd);
        uint cerr = ((uint)csSel & 0xFFFC) | ext;
        if (code.IsSystem || !code.IsCode || code.Dpl > Cpl) throw Fault(Vectors.GP, cerr);
        if (!code.Present) throw Fault(Vectors.NP, cerr);

        uint oldFlags = GetEflags();
        ushort oldCs = Seg[SegmentIndex.CS].Selector;
        ushort oldSs = Seg[SegmentIndex.SS].Selector;
        uint oldEsp = R[4];
        var saved = SaveForRollback();
        try
        {
            if (V86Mode)
            {
                // From virtual-8086 mode: only a 32-bit gate to a ring-0 nonconforming segment will do.
                if (code.Dpl != 0 || code.IsConforming) throw Fault(Vectors.GP, cerr);
                (ushort ss, uint esp) = StackFromTss(0);
                var ssDesc = CheckStackSegment(ss, 0, Vectors.TS);
                if (target > code.Limit) throw Fault(Vectors.GP, ext);
                ushort gs = Seg[SegmentIndex.GS].Selector, fs = Seg[SegmentIndex.FS].Selector, ds = Seg[SegmentIndex.DS].Selector, es = Seg[SegmentIndex.ES].Selector;
                _flags &= ~(Flags.VM | Flags.TF | Flags.NT | Flags.RF);
                if (!trapGate) _flags &= ~Flags.IF;
                ModeChanged();
                SetCpl(0);
                Seg[SegmentIndex.SS] = ssDesc; Seg[SegmentIndex.SS].Selector = ss; SegmentChanged(SegmentIndex.SS);
                R[4] = ssDesc.Big ? esp : esp & 0xFFFF;
                Push(gs, size); Push(fs, size); Push(ds, size); Push(es, size);
                Push(oldSs, size); Push(oldEsp, size); Push(oldFlags, size); Push(oldCs, size); Push(returnEip, size);
                if (hasErr) Push(err, size);
                foreach (int s in (ReadOnlySpan<int>)[SegmentIndex.GS, SegmentIndex.FS, SegmentIndex.DS, SegmentIndex.ES])
                {
                    Seg[s] = new SegmentRegister();
                    SegmentChanged(s);
                }
                LoadCodeSegment(csSel, cd, 0);
            }
            else if (!code.IsConforming && code.Dpl < Cpl)
            {
                int newCpl = code.Dpl;
                (ushort ss, uint esp) = StackFromTss(newCpl);
                var ssDesc = CheckStackSegment(ss, newCpl, Vectors.TS);
                if (target > code.Limit) throw Fault(Vectors.GP, ext);
                SetCpl(newCpl);
                Seg[SegmentIndex.SS] = ssDesc; Seg[SegmentIndex.SS].Selector = ss; SegmentChanged(SegmentIndex.SS);
                R[4] = ssDesc.Big ? esp : esp & 0xFFFF;
                Push(oldSs, size); Push(oldEsp, size); Push(oldFlags, size); Push(oldCs, size); Push(returnEip, size);
                if (hasErr) Push(err, size);
                LoadCodeSegment(csSel, cd, newCpl);
            }
            else
            {
                if (target > code.Limit) throw Fault(Vectors.GP, ext);
                Push(oldFlags, size); Push(oldCs, size); Push(returnEip, size);
                if (hasErr) Push(err, size);
                LoadCodeSegment(csSel, cd, Cpl);
            }
        }
        catch (GuestFault)
        {
            RestoreRollback(saved);
            throw;
        }
        _flags &= ~(Flags.TF | Flags.NT | Flags.RF | Flags.VM);
        if (!trapGate) _flags &= ~Flags.IF;
        EipReg = gate32 ? target : target & 0xFFFF;
        _exitBlock = true;
    }

    private void DeliverReal(int vector, uint returnEip)
    {
        uint entry = (uint)vector * 4;
        if (entry + 3 > Idtr.Limit) throw Fault(Vectors.GP, (uint)vector * 8 + 2);
        uint vec = ReadLin32(Idtr.Base + entry);
        uint flags = GetEflags();
        ProbePushes(3, 2);
        Push16((ushort)flags);
        Push16(Seg[SegmentIndex.CS].Selector);
        Push16((ushort)returnEip);
        _flags &= ~(Flags.IF | Flags.TF | Flags.AC | Flags.RF);
        LoadCsReal((ushort)(vec >> 16));
        EipReg = vec & 0xFFFF;
        _exitBlock = true;
    }

    private (SegmentRegister[] Segs, uint Esp, int Cpl, uint Flags) SaveForRollback() =>
        ((SegmentRegister[])Seg.Clone(), R[4], Cpl, GetEflags());

    private void RestoreRollback((SegmentRegister[] Segs, uint Esp, int Cpl, uint Flags) s)
    {
        Array.Copy(s.Segs, Seg, 6);
        R[4] = s.Esp;
        _flags = s.Flags;
        _lfOp = LazyOp.None;
        Cpl = s.Cpl;
        ModeChanged();
    }

    internal void ExecIret(int size)
    {
        _nmiBlocked = false;
        if (!ProtectedMode)
        {
            uint ip = PeekStack(0, size), cs = PeekStack((uint)size, size), fl = PeekStack((uint)(2 * size), size);
            if (size == 2) ip &= 0xFFFF;
            AdjustSp(3 * size);
            LoadCsReal((ushort)cs);
            uint keep = size == 4 ? Flags.VM | Flags.VIF | Flags.VIP : 0xFFFF_0000;
            SetEflags((GetEflags() & keep) | (fl & ~keep));
            _nextEip = ip;
            _exitBlock = true;
            return;
        }
        if (V86Mode)
        {
            if (((_flags >> 12) & 3) < 3) throw Fault(Vectors.GP, 0);
            uint ip = PeekStack(0, size), cs = PeekStack((uint)size, size), fl = PeekStack((uint)(2 * size), size);
            AdjustSp(3 * size);
            LoadCsReal((ushort)cs);
            uint keep = Flags.IOPL | Flags.VM | Flags.VIF | Flags.VIP | (size == 2 ? 0xFFFF_0000 : 0);
            SetEflags((GetEflags() & keep) | (fl & ~keep));
            _nextEip = size == 2 ? ip & 0xFFFF : ip;
            _exitBlock = true;
            return;
        }
        if ((_flags & Flags.NT) != 0)
        {
            ushort link = ReadSys16(Tr.Base);
            ulong d = ReadDescriptor(link, Vectors.TS);
            if ((link & 4) != 0) throw Fault(Vectors.TS, (uint)link & 0xFFFC);
            TaskSwitchThrough(link, d, TaskSwitchReason.Iret, _nextEip);
            _nextEip = EipReg;
            return;
        }
        uint newEip = PeekStack(0, size);
        ushort sel = (ushort)PeekStack((uint)size, size);
        uint newFlags = PeekStack((uint)(2 * size), size);
        if (size == 4 && (newFlags & Flags.VM) != 0 && Cpl == 0)
        {
            IretToV86(newEip, sel, newFlags);
            return;
        }
        if ((sel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        ulong cd = ReadDescriptor(sel);
        var code = ParseDescriptor(sel, cd);
        uint err = (uint)sel & 0xFFFC;
        int rpl = sel & 3;
        if (code.IsSystem || !code.IsCode || rpl < Cpl) throw Fault(Vectors.GP, err);
        if (code.IsConforming ? code.Dpl > rpl : code.Dpl != rpl) throw Fault(Vectors.GP, err);
        if (!code.Present) throw Fault(Vectors.NP, err);
        if (size == 2) newEip &= 0xFFFF;
        int oldCpl = Cpl;
        if (rpl == Cpl)
        {
            if (newEip > code.Limit) throw Fault(Vectors.GP, 0);
            AdjustSp(3 * size);
            LoadCodeSegment(sel, cd, rpl);
        }
        else
        {
            uint newEsp = PeekStack((uint)(3 * size), size);
            ushort newSs = (ushort)PeekStack((uint)(4 * size), size);
            var ssDesc = CheckStackSegment(newSs, rpl, Vectors.GP);
            if (newEip > code.Limit) throw Fault(Vectors.GP, 0);
            LoadCodeSegment(sel, cd, rpl);
            Seg[SegmentIndex.SS] = ssDesc; Seg[SegmentIndex.SS].Selector = newSs; SegmentChanged(SegmentIndex.SS);
            if (ssDesc.Big) R[4] = newEsp; else SetReg16(4, (ushort)newEsp);
            NullInaccessibleDataSegments();
        }
        UpdateFlagsPrivileged(newFlags, size, oldCpl);
        _nextEip = newEip;
        _exitBlock = true;
    }

    /// <summary>EFLAGS from IRET/POPF in protected mode: IOPL only at CPL 0, IF only when CPL &lt;= IOPL; VM/VIF/VIP kept.</summary>
    internal void UpdateFlagsPrivileged(uint value, int size, int cpl)
    {
        uint old = GetEflags();
        uint changeable = Flags.Arith | Flags.TF | Flags.DF | Flags.NT | Flags.RF | Flags.AC | Flags.ID;
        if (cpl == 0) changeable |= Flags.IOPL;
        if (cpl <= (int)((old >> 12) & 3)) changeable |= Flags.IF;
        if (size == 2) changeable &= 0xFFFF;
        SetEflags((old & ~changeable) | (value & changeable));
    }

    private void IretToV86(uint eip, ushort cs, uint flags)
    {
        uint esp = PeekStack(12, 4);
        ushort ss = (ushort)PeekStack(16, 4), es = (ushort)PeekStack(20, 4), ds = (ushort)PeekStack(24, 4),
            fs = (ushort)PeekStack(28, 4), gs = (ushort)PeekStack(32, 4);
        SetEflags(flags);
        SetCpl(3);
        ModeChanged();
        LoadSegment(SegmentIndex.CS, cs);
        LoadSegment(SegmentIndex.SS, ss);
        LoadSegment(SegmentIndex.ES, es);
        LoadSegment(SegmentIndex.DS, ds);
        LoadSegment(SegmentIndex.FS, fs);
        LoadSegment(SegmentIndex.GS, gs);
        R[4] = esp;
        _nextEip = eip & 0xFFFF;
        _exitBlock = true;
    }
}
