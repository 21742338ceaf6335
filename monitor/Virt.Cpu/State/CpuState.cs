namespace Virt.Cpu.State;

/// <summary>
/// Register-level view of a <see cref="Cpu"/>'s architectural state, for hosts (the comm page,
/// save/restore) and tests. Reads and writes go straight to the CPU; setters that change the mode
/// (CR0, EFLAGS.VM, segments) update the engine's derived state. Use only while the CPU is not running.
/// </summary>
public sealed class CpuState
{
    private readonly Cpu _cpu;

    internal CpuState(Cpu cpu) => _cpu = cpu;

    public uint Eax { get => _cpu.R[0]; set => _cpu.R[0] = value; }
    public uint Ecx { get => _cpu.R[1]; set => _cpu.R[1] = value; }
    public uint Edx { get => _cpu.R[2]; set => _cpu.R[2] = value; }
    public uint Ebx { get => _cpu.R[3]; set => _cpu.R[3] = value; }
    public uint Esp { get => _cpu.R[4]; set => _cpu.R[4] = value; }
    public uint Ebp { get => _cpu.R[5]; set => _cpu.R[5] = value; }
    public uint Esi { get => _cpu.R[6]; set => _cpu.R[6] = value; }
    public uint Edi { get => _cpu.R[7]; set => _cpu.R[7] = value; }

    /// <summary>General registers by encoding number (0 = EAX ... 7 = EDI).</summary>
    public uint this[int reg] { get => _cpu.R[reg]; set => _cpu.R[reg] = value; }

    public uint Eip { get => _cpu.EipReg; set => _cpu.EipReg = value; }

    public uint Eflags { get => _cpu.GetEflags(); set => _cpu.SetEflags(value); }

    public int Cpl { get => _cpu.Cpl; set { _cpu.SetCpl(value); _cpu.ModeChanged(); } }

    public SegmentRegister GetSegment(int index) => _cpu.Seg[index];

    public void SetSegment(int index, SegmentRegister value)
    {
        _cpu.Seg[index] = value;
        _cpu.SegmentChanged(index);
        if (index == SegmentIndex.CS) _cpu.ModeChanged();
    }

    public SegmentRegister Es { get => GetSegment(SegmentIndex.ES); set => SetSegment(SegmentIndex.ES, value); }
    public SegmentRegister Cs { get => GetSegment(SegmentIndex.CS); set => SetSegment(SegmentIndex.CS, value); }
    public SegmentRegister Ss { get => GetSegment(SegmentIndex.SS); set => SetSegment(SegmentIndex.SS, value); }
    public SegmentRegister Ds { get => GetSegment(SegmentIndex.DS); set => SetSegment(SegmentIndex.DS, value); }
    public SegmentRegister Fs { get => GetSegment(SegmentIndex.FS); set => SetSegment(SegmentIndex.FS, value); }
    public SegmentRegister Gs { get => GetSegment(SegmentIndex.GS); set => SetSegment(SegmentIndex.GS, value); }

    public SegmentRegister Ldtr { get => _cpu.Ldtr; set => _cpu.Ldtr = value; }
    public SegmentRegister Tr { get => _cpu.Tr; set => _cpu.Tr = value; }
    public DescriptorTableRegister Gdtr { get => _cpu.Gdtr; set => _cpu.Gdtr = value; }
    public DescriptorTableRegister Idtr { get => _cpu.Idtr; set => _cpu.Idtr = value; }

    public uint Cr0 { get => _cpu.Cr0; set { _cpu.Cr0 = value; _cpu.FlushTlb(); _cpu.ModeChanged(); } }
    public uint Cr2 { get => _cpu.Cr2; set => _cpu.Cr2 = value; }
    public uint Cr3 { get => _cpu.Cr3; set { _cpu.Cr3 = value; _cpu.FlushTlb(); } }
    public uint Cr4 { get => _cpu.Cr4; set { _cpu.Cr4 = value; _cpu.FlushTlb(); } }

    public uint GetDr(int n) => _cpu.Dr[n];
    public void SetDr(int n, uint value) => _cpu.Dr[n] = value;
}
