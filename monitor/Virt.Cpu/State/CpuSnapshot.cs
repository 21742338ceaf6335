namespace Virt.Cpu.State;

/// <summary>
/// The complete architectural state of one VCPU at an instruction boundary, independent of the
/// engine that ran it (no decoded blocks, no translated code, no TLB): what a save/restore carries.
/// Taken and put back with <see cref="Cpu.CaptureSnapshot"/> and <see cref="Cpu.RestoreSnapshot"/>
/// while the CPU is not running.
/// </summary>
public sealed class CpuSnapshot
{
    public uint[] Registers { get; set; } = new uint[8];
    public uint Eip { get; set; }
    public uint Eflags { get; set; }
    public int Cpl { get; set; }
    /// <summary>ES, CS, SS, DS, FS, GS with their hidden descriptor caches (SegmentIndex order).</summary>
    public SegmentRegister[] Segments { get; set; } = new SegmentRegister[6];
    public SegmentRegister Ldtr { get; set; }
    public SegmentRegister Tr { get; set; }
    public DescriptorTableRegister Gdtr { get; set; }
    public DescriptorTableRegister Idtr { get; set; }
    public uint Cr0 { get; set; }
    public uint Cr2 { get; set; }
    public uint Cr3 { get; set; }
    public uint Cr4 { get; set; }
    public uint[] DebugRegisters { get; set; } = new uint[8];
    /// <summary>Every MSR the CPU holds, the time-stamp counter apart (<see cref="Tsc"/>).</summary>
    public KeyValuePair<uint, ulong>[] Msrs { get; set; } = [];
    /// <summary>The TSC's value at the capture; a restore continues from it on the restoring clock.</summary>
    public ulong Tsc { get; set; }
    public long InstructionsRetired { get; set; }
    public bool Halted { get; set; }
    /// <summary>STI / MOV SS interrupt shadow over the next instruction, and whether it also holds back the single-step trap.</summary>
    public bool InterruptShadow { get; set; }
    public bool MovSsShadow { get; set; }
    public bool NmiPending { get; set; }
    public bool NmiBlocked { get; set; }

    // ---- x87 ----
    public ushort FpuControl { get; set; }
    public ushort FpuStatus { get; set; }
    public ushort FpuTag { get; set; }
    public uint FpuInstructionPointer { get; set; }
    public ushort FpuCodeSelector { get; set; }
    public uint FpuDataPointer { get; set; }
    public ushort FpuDataSelector { get; set; }
    public ushort FpuLastOpcode { get; set; }
    /// <summary>The eight physical registers R0-R7 (not stack order): sign and exponent, then significand.</summary>
    public ushort[] FpuSignExponents { get; set; } = new ushort[8];
    public ulong[] FpuSignificands { get; set; } = new ulong[8];

    /// <summary>
    /// The paravirtual MSRs the guest set (kvmclock, PV EOI, the call table; docs/paravirt.md): a
    /// restore writes them again, which puts the monitor's pages back. Empty when the guest set none.
    /// </summary>
    public KeyValuePair<uint, ulong>[] ParavirtMsrs { get; set; } = [];
    /// <summary>Where kvmclock's nanoseconds stand against the TSC, so its time goes on from where it was.</summary>
    public ulong PvClockAnchorTsc { get; set; }
    public ulong PvClockAnchorNs { get; set; }
}
