using Virt.Cpu.Fpu;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Save and restore: the architectural state in and out of a CpuSnapshot, between runs.
public sealed partial class Cpu
{
    /// <summary>The architectural state now (the CPU must not be running: the VCPU is parked at an instruction boundary).</summary>
    public CpuSnapshot CaptureSnapshot()
    {
        var s = new CpuSnapshot
        {
            Registers = (uint[])R.Clone(),
            Eip = EipReg,
            Eflags = GetEflags(),
            Cpl = Cpl,
            Segments = (SegmentRegister[])Seg.Clone(),
            Ldtr = Ldtr,
            Tr = Tr,
            Gdtr = Gdtr,
            Idtr = Idtr,
            Cr0 = Cr0,
            Cr2 = Cr2,
            Cr3 = Cr3,
            Cr4 = Cr4,
            DebugRegisters = (uint[])Dr.Clone(),
            Msrs = _msrs.Where(m => m.Key != MsrTsc).ToArray(),
            Tsc = ReadTsc(),
            InstructionsRetired = _retired,
            Halted = _halted,
            InterruptShadow = _shadow,
            MovSsShadow = _movSsShadow,
            NmiPending = _nmiPending,
            NmiBlocked = _nmiBlocked,
            FpuControl = Fpu.ControlWord,
            FpuStatus = Fpu.StatusWord,
            FpuTag = Fpu.TagWord,
            FpuInstructionPointer = Fpu.InstructionPointer,
            FpuCodeSelector = Fpu.CodeSelector,
            FpuDataPointer = Fpu.DataPointer,
            FpuDataSelector = Fpu.DataSelector,
            FpuLastOpcode = Fpu.LastOpcode,
            ParavirtMsrs = ParavirtMsrsSet(),
            PvClockAnchorTsc = _pvAnchorTsc,
            PvClockAnchorNs = _pvAnchorNs,
        };
        for (int i = 0; i < 8; i++)
        {
            Float80 f = Fpu.GetPhysicalRegister(i);
            s.FpuSignExponents[i] = f.SignExponent;
            s.FpuSignificands[i] = f.Significand;
        }
        return s;
    }

    /// <summary>
    /// Puts a captured state back (the CPU must not be running). Set <see cref="TscClock"/> first: the
    /// TSC continues from the captured value on it. Instructions retired continue from the captured count.
    /// </summary>
    public void RestoreSnapshot(CpuSnapshot s)
    {
        if (s.Registers.Length != 8 || s.Segments.Length != 6 || s.DebugRegisters.Length != 8
            || s.FpuSignExponents.Length != 8 || s.FpuSignificands.Length != 8 || s.Cpl is < 0 or > 3)
            throw new ArgumentException("a CPU snapshot with the wrong number of registers or a CPL outside 0-3");
        Reset();
        s.Registers.CopyTo(R, 0);
        EipReg = s.Eip;
        Cr0 = s.Cr0;
        Cr2 = s.Cr2;
        Cr3 = s.Cr3;
        Cr4 = s.Cr4;
        s.DebugRegisters.CopyTo(Dr, 0);
        Gdtr = s.Gdtr;
        Idtr = s.Idtr;
        Ldtr = s.Ldtr;
        Tr = s.Tr;
        SetEflags(s.Eflags);
        for (int i = 0; i < 6; i++)
        {
            Seg[i] = s.Segments[i];
            SegmentChanged(i);
        }
        SetCpl(s.Cpl);
        _msrs.Clear();
        foreach (KeyValuePair<uint, ulong> m in s.Msrs) _msrs[m.Key] = m.Value;
        // The retired count first: on instruction time the TSC's clock reads it.
        _retired = s.InstructionsRetired;
        WriteTsc(s.Tsc);
        _halted = s.Halted;
        _shadow = s.InterruptShadow;
        _movSsShadow = s.MovSsShadow;
        _nmiPending = s.NmiPending;
        _nmiBlocked = s.NmiBlocked;
        Fpu.StatusWord = s.FpuStatus;
        Fpu.ControlWord = s.FpuControl;
        Fpu.TagWord = s.FpuTag;
        Fpu.InstructionPointer = s.FpuInstructionPointer;
        Fpu.CodeSelector = s.FpuCodeSelector;
        Fpu.DataPointer = s.FpuDataPointer;
        Fpu.DataSelector = s.FpuDataSelector;
        Fpu.LastOpcode = s.FpuLastOpcode;
        for (int i = 0; i < 8; i++) Fpu.SetPhysicalRegister(i, new Float80(s.FpuSignExponents[i], s.FpuSignificands[i]));
        RestoreParavirt(s.ParavirtMsrs, s.PvClockAnchorTsc, s.PvClockAnchorNs);
        FlushTlb();
        ModeChanged();
    }
}
