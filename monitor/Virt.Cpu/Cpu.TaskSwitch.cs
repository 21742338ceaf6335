using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Hardware task switching through TSS descriptors and task gates (SDM vol. 3 ch. 7), for 32-bit
// and 16-bit TSSs. Linux uses it for its double-fault handler; test suites use it directly.
public sealed partial class Cpu
{
    /// <summary>
    /// Switches to the task named by sel (a TSS descriptor or a task gate). <paramref name="returnEip"/>
    /// is saved as the old task's EIP: the next instruction for JMP, CALL, IRET and INT n, the
    /// faulting one for an exception. EipReg is left alone until the switch commits, so a fault
    /// raised before (busy TSS, bad limit) is reported at the instruction that tried the switch;
    /// on return EipReg is the new task's EIP and an instruction that switched must continue
    /// there (<c>_nextEip = EipReg</c>).
    /// </summary>
    private void TaskSwitchThrough(ushort sel, ulong d, TaskSwitchReason reason, uint returnEip, bool hasErr = false, uint err = 0, bool viaGate = true)
    {
        var desc = ParseDescriptor(sel, d);
        if (desc.IsSystem && desc.Type == 5)
        {
            // Task gate: its DPL was checked by the caller; the TSS selector is in the gate and must be in the GDT.
            if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Call && (desc.Dpl < Cpl || desc.Dpl < (sel & 3)))
                throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
            if (!desc.Present) throw Fault(Vectors.NP, (uint)sel & 0xFFFC);
            ushort tssSel = (ushort)(d >> 16);
            if ((tssSel & 4) != 0) throw Fault(Vectors.GP, (uint)tssSel & 0xFFFC);
            ulong td = ReadDescriptor(tssSel);
            TaskSwitch(tssSel, td, reason, returnEip, hasErr, err);
            return;
        }
        if (viaGate && reason is TaskSwitchReason.Jump or TaskSwitchReason.Call && (desc.Dpl < Cpl || desc.Dpl < (sel & 3)))
            throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
        TaskSwitch(sel, d, reason, returnEip, hasErr, err);
    }

    private void TaskSwitch(ushort sel, ulong d, TaskSwitchReason reason, uint returnEip, bool hasErr, uint err)
    {
        var nd = ParseDescriptor(sel, d);
        uint serr = (uint)sel & 0xFFFC;
        int type = nd.Type;
        bool busy = (type & 2) != 0;
        if (!nd.IsSystem || (type & ~2 & 7) != 1) throw Fault(Vectors.GP, serr);
        if (reason == TaskSwitchReason.Iret ? !busy : busy) throw Fault(Vectors.GP, serr);
        if (!nd.Present) throw Fault(Vectors.NP, serr);
        bool new32 = (type & 8) != 0;
        if (nd.Limit < (new32 ? 0x67u : 0x2Bu)) throw Fault(Vectors.TS, serr);

        // Save the outgoing task.
        uint flags = GetEflags();
        if (reason == TaskSwitchReason.Iret) flags &= ~Flags.NT;
        bool old32 = (Tr.Type & 8) != 0;
        uint ob = Tr.Base;
        if (old32)
        {
            WriteSys32(ob + 0x20, returnEip);
            WriteSys32(ob + 0x24, flags);
            for (int i = 0; i < 8; i++) WriteSys32(ob + 0x28 + (uint)i * 4, R[i]);
            for (int i = 0; i < 6; i++) WriteSys16(ob + 0x48 + (uint)i * 4, Seg[i].Selector);
        }
        else
        {
            WriteSys16(ob + 0x0E, (ushort)returnEip);
            WriteSys16(ob + 0x10, (ushort)flags);
            for (int i = 0; i < 8; i++) WriteSys16(ob + 0x12 + (uint)i * 2, (ushort)R[i]);
            for (int i = 0; i < 4; i++) WriteSys16(ob + 0x22 + (uint)i * 2, Seg[i].Selector);
        }
        if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Iret)
        {
            uint oa = DescriptorAddress(Tr.Selector) + 5;
            WriteSys8(oa, (byte)(ReadSys8(oa) & ~2));
        }

        // Read the incoming task.
        uint nb = nd.Base;
        uint eip, nflags, cr3 = 0, ldt;
        uint[] regs = new uint[8];
        ushort[] sels = new ushort[6];
        if (new32)
        {
            cr3 = ReadSys32(nb + 0x1C);
            eip = ReadSys32(nb + 0x20);
            nflags = ReadSys32(nb + 0x24);
            for (int i = 0; i < 8; i++) regs[i] = ReadSys32(nb + 0x28 + (uint)i * 4);
            for (int i = 0; i < 6; i++) sels[i] = ReadSys16(nb + 0x48 + (uint)i * 4);
            ldt = ReadSys16(nb + 0x60);
        }
        else
        {
            eip = ReadSys16(nb + 0x0E);
            nflags = ReadSys16(nb + 0x10) | (GetEflags() & 0xFFFF_0000 & ~Flags.VM);
            for (int i = 0; i < 8; i++) regs[i] = 0xFFFF_0000 | ReadSys16(nb + 0x12 + (uint)i * 2);
            for (int i = 0; i < 4; i++) sels[i] = ReadSys16(nb + 0x22 + (uint)i * 2);
            ldt = ReadSys16(nb + 0x2A);
        }
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.Interrupt)
        {
            nflags |= Flags.NT;
            WriteSys16(nb, Tr.Selector);
        }
        if (reason != TaskSwitchReason.Iret)
        {
            uint na = DescriptorAddress(sel) + 5;
            WriteSys8(na, (byte)(ReadSys8(na) | 2));
        }

        // Commit: TR, CR0.TS, CR3, registers; then load and check LDTR and the segments in the new task.
        Tr = nd;
        Tr.Attributes |= 2;
        Cr0 |= ControlBits.CR0_TS;
        if (new32 && PagingEnabled && cr3 != Cr3) { Cr3 = cr3; FlushTlbCore(keepGlobal: (Cr4 & ControlBits.CR4_PGE) != 0); }
        for (int i = 0; i < 8; i++) R[i] = new32 ? regs[i] : (R[i] & 0xFFFF_0000) | (regs[i] & 0xFFFF);
        SetEflags(nflags);
        EipReg = eip;
        // Selectors are loaded first without checks so a fault below reports in the new task's context.
        for (int i = 0; i < 6; i++) Seg[i].Selector = sels[i];
        Ldtr.Selector = (ushort)ldt;
        _exitBlock = true;

        if ((ldt & 4) != 0) throw Fault(Vectors.TS, ldt & 0xFFFC);
        if ((ldt & 0xFFFC) != 0)
        {
            ulong ld = ReadDescriptor((ushort)ldt, Vectors.TS);
            var ldesc = ParseDescriptor((ushort)ldt, ld);
            if (!ldesc.IsSystem || ldesc.Type != 2) throw Fault(Vectors.TS, ldt & 0xFFFC);
            if (!ldesc.Present) throw Fault(Vectors.TS, ldt & 0xFFFC);
            Ldtr = ldesc;
        }
        else Ldtr = new SegmentRegister { Selector = (ushort)ldt };

        if (V86Mode)
        {
            SetCpl(3);
            for (int i = 0; i < 6; i++) { Seg[i] = SegmentRegister.RealMode(sels[i], (ushort)(i == SegmentIndex.CS ? 0xFB : 0xF3)); }
            ModeChanged();
        }
        else
        {
            int newCpl = sels[SegmentIndex.CS] & 3;
            // CS
            ushort cs = sels[SegmentIndex.CS];
            if ((cs & 0xFFFC) == 0) throw Fault(Vectors.TS, 0);
            ulong cd = ReadDescriptor(cs, Vectors.TS);
            var code = ParseDescriptor(cs, cd);
            if (code.IsSystem || !code.IsCode) throw Fault(Vectors.TS, (uint)cs & 0xFFFC);
            if (code.IsConforming ? code.Dpl > newCpl : code.Dpl != newCpl) throw Fault(Vectors.TS, (uint)cs & 0xFFFC);
            if (!code.Present) throw Fault(Vectors.NP, (uint)cs & 0xFFFC);
            SetCpl(newCpl);
            ModeChanged();
            var ss = CheckStackSegment(sels[SegmentIndex.SS], newCpl, Vectors.TS);
            ss.Selector = sels[SegmentIndex.SS];
            Seg[SegmentIndex.SS] = ss;
            SegmentChanged(SegmentIndex.SS);
            LoadCodeSegment(cs, cd, newCpl);
            foreach (int i in (ReadOnlySpan<int>)[SegmentIndex.ES, SegmentIndex.DS, SegmentIndex.FS, SegmentIndex.GS])
            {
                try { LoadSegment(i, sels[i]); }
                catch (GuestFault f) when (f.Vector == Vectors.GP) { throw Fault(Vectors.TS, f.ErrorCode); }
            }
        }
        if (EipReg > Seg[SegmentIndex.CS].Limit) throw Fault(Vectors.GP, 0);
        if (hasErr) Push(err, new32 ? 4 : 2);
    }
}
