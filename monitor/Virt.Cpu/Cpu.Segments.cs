using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Descriptor tables and segment register loads with the protected-mode checks of the SDM
// (vol. 3 ch. 5): null selectors, table limits, types, privilege (CPL/RPL/DPL), presence.
public sealed partial class Cpu
{
    /// <summary>Reads the 8-byte descriptor for a selector from the GDT or LDT; #GP(selector) beyond the table limit.</summary>
    internal ulong ReadDescriptor(ushort sel, int faultVector = Vectors.GP)
    {
        uint index = (uint)sel & ~7u;
        uint tableBase, tableLimit;
        if ((sel & 4) != 0)
        {
            if (!Ldtr.Present) throw Fault(faultVector, (uint)sel & 0xFFFC);
            tableBase = Ldtr.Base; tableLimit = Ldtr.Limit;
        }
        else { tableBase = Gdtr.Base; tableLimit = Gdtr.Limit; }
        if (index + 7 > tableLimit) throw Fault(faultVector, (uint)sel & 0xFFFC);
        return ReadSys64(tableBase + index);
    }

    /// <summary>Linear address of a selector's descriptor (for setting accessed/busy bits).</summary>
    internal uint DescriptorAddress(ushort sel) => ((sel & 4) != 0 ? Ldtr.Base : Gdtr.Base) + ((uint)sel & ~7u);

    internal static SegmentRegister ParseDescriptor(ushort sel, ulong d)
    {
        uint baseAddr = (uint)((d >> 16) & 0xFF_FFFF) | (uint)((d >> 56) << 24);
        uint limit = (uint)(d & 0xFFFF) | (uint)((d >> 32) & 0xF_0000);
        if ((d & (1UL << 55)) != 0) limit = (limit << 12) | 0xFFF;
        ushort attr = (ushort)(((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 12));
        return new SegmentRegister { Selector = sel, Base = baseAddr, Limit = limit, Attributes = attr };
    }

    /// <summary>Sets the accessed bit of a code/data descriptor in memory, if not already set.</summary>
    internal void SetAccessed(ushort sel, ulong d)
    {
        if ((d & (1UL << 40)) == 0) WriteSys8(DescriptorAddress(sel) + 5, (byte)((d >> 40) | 1));
    }

    /// <summary>MOV/POP/LxS to a data segment register or SS, with every protected-mode check.</summary>
    internal void LoadSegment(int seg, ushort sel)
    {
        if (!ProtectedMode || V86Mode)
        {
            ref SegmentRegister s = ref Seg[seg];
            s.Selector = sel;
            s.Base = (uint)sel << 4;
            if (V86Mode) { s.Limit = 0xFFFF; s.Attributes = (ushort)(seg == SegmentIndex.CS ? 0xFB : 0xF3); }
            else s.Attributes = (ushort)((s.Attributes & 0xF000) | (seg == SegmentIndex.CS ? 0x9B : 0x93));
            SegmentChanged(seg);
            return;
        }
        int rpl = sel & 3;
        if ((sel & 0xFFFC) == 0)
        {
            if (seg == SegmentIndex.SS) throw Fault(Vectors.GP, 0);
            Seg[seg] = new SegmentRegister { Selector = sel, Attributes = 0 }; // unusable: any access faults
            SegmentChanged(seg);
            return;
        }
        ulong d = ReadDescriptor(sel);
        var desc = ParseDescriptor(sel, d);
        uint err = (uint)sel & 0xFFFC;
        if (seg == SegmentIndex.SS)
        {
            if (rpl != Cpl || desc.Dpl != Cpl || desc.IsSystem || !desc.Writable) throw Fault(Vectors.GP, err);
            if (!desc.Present) throw Fault(Vectors.SS, err);
        }
        else
        {
            if (desc.IsSystem || (desc.IsCode && !desc.Readable)) throw Fault(Vectors.GP, err);
            if ((!desc.IsCode || !desc.IsConforming) && (desc.Dpl < Cpl || desc.Dpl < rpl)) throw Fault(Vectors.GP, err);
            if (!desc.Present) throw Fault(Vectors.NP, err);
        }
        SetAccessed(sel, d);
        desc.Attributes |= 1;
        Seg[seg] = desc;
        SegmentChanged(seg);
    }

    /// <summary>Loads CS from a checked code descriptor, with RPL forced to the new CPL.</summary>
    internal void LoadCodeSegment(ushort sel, ulong d, int newCpl)
    {
        SetAccessed(sel, d);
        var desc = ParseDescriptor((ushort)((sel & 0xFFFC) | newCpl), d);
        desc.Attributes |= 1;
        Seg[SegmentIndex.CS] = desc;
        SetCpl(newCpl);
        SegmentChanged(SegmentIndex.CS);
        _exitBlock = true;
    }

    internal void SetCpl(int cpl)
    {
        if (Cpl == cpl) return;
        Cpl = cpl;
        SelectTlb();
    }

    /// <summary>Real-mode / V86 far transfer: CS = selector, base = selector * 16.</summary>
    internal void LoadCsReal(ushort sel)
    {
        ref SegmentRegister cs = ref Seg[SegmentIndex.CS];
        cs.Selector = sel;
        cs.Base = (uint)sel << 4;
        if (V86Mode) { cs.Limit = 0xFFFF; cs.Attributes = 0xFB; }
        SegmentChanged(SegmentIndex.CS);
        _exitBlock = true;
    }

    /// <summary>After a return to an outer privilege level: data segments the new CPL may not use become null.</summary>
    internal void NullInaccessibleDataSegments()
    {
        foreach (int i in (ReadOnlySpan<int>)[SegmentIndex.ES, SegmentIndex.DS, SegmentIndex.FS, SegmentIndex.GS])
        {
            ref SegmentRegister s = ref Seg[i];
            bool dataOrNonConforming = !s.IsCode || !s.IsConforming;
            if (s.Present && !s.IsSystem && dataOrNonConforming && s.Dpl < Cpl)
            {
                s = new SegmentRegister { Selector = 0, Attributes = 0 };
                SegmentChanged(i);
            }
        }
    }

    /// <summary>Reads the inner-level stack pointer for privilege level dpl from the current TSS.</summary>
    internal (ushort Ss, uint Esp) StackFromTss(int dpl)
    {
        bool tss32 = (Tr.Type & 8) != 0;
        uint off = tss32 ? (uint)(4 + dpl * 8) : (uint)(2 + dpl * 4);
        uint need = tss32 ? off + 7 : off + 3;
        if (need > Tr.Limit) throw Fault(Vectors.TS, (uint)Tr.Selector & 0xFFFC);
        return tss32
            ? (ReadSys16(Tr.Base + off + 4), ReadSys32(Tr.Base + off))
            : (ReadSys16(Tr.Base + off + 2), ReadSys16(Tr.Base + off));
    }

    /// <summary>Checks and loads a new SS for an inner-level stack switch (faults are #TS).</summary>
    internal SegmentRegister CheckStackSegment(ushort ss, int newCpl, int faultVector)
    {
        uint err = (uint)ss & 0xFFFC;
        if ((ss & 0xFFFC) == 0) throw Fault(faultVector, err);
        ulong d = ReadDescriptor(ss, faultVector);
        var desc = ParseDescriptor(ss, d);
        if ((ss & 3) != newCpl || desc.Dpl != newCpl || desc.IsSystem || !desc.Writable) throw Fault(faultVector, err);
        if (!desc.Present) throw Fault(Vectors.SS, err);
        SetAccessed(ss, d);
        desc.Attributes |= 1;
        return desc;
    }
}
