using MemoryPack;
using Virt.Cpu.State;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// The VCPU's architectural state in the snapshot: the engine-independent <see cref="CpuSnapshot"/>
/// (no decoded blocks, no translated code, no TLB), member for member, so the file's layout is
/// this type's and not the engine's.
/// </summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class CpuImage
{
    [MemoryPackOrder(0)] public uint[] Registers { get; set; } = new uint[8];
    [MemoryPackOrder(1)] public uint Eip { get; set; }
    [MemoryPackOrder(2)] public uint Eflags { get; set; }
    [MemoryPackOrder(3)] public int Cpl { get; set; }
    [MemoryPackOrder(4)] public SegmentImage[] Segments { get; set; } = [];
    [MemoryPackOrder(5)] public SegmentImage Ldtr { get; set; } = new();
    [MemoryPackOrder(6)] public SegmentImage Tr { get; set; } = new();
    [MemoryPackOrder(7)] public uint GdtrBase { get; set; }
    [MemoryPackOrder(8)] public ushort GdtrLimit { get; set; }
    [MemoryPackOrder(9)] public uint IdtrBase { get; set; }
    [MemoryPackOrder(10)] public ushort IdtrLimit { get; set; }
    [MemoryPackOrder(11)] public uint[] ControlRegisters { get; set; } = new uint[5];
    [MemoryPackOrder(12)] public uint[] DebugRegisters { get; set; } = new uint[8];
    [MemoryPackOrder(13)] public uint[] MsrIndices { get; set; } = [];
    [MemoryPackOrder(14)] public ulong[] MsrValues { get; set; } = [];
    [MemoryPackOrder(15)] public ulong Tsc { get; set; }
    [MemoryPackOrder(16)] public long InstructionsRetired { get; set; }
    [MemoryPackOrder(17)] public bool Halted { get; set; }
    [MemoryPackOrder(18)] public bool InterruptShadow { get; set; }
    [MemoryPackOrder(19)] public bool MovSsShadow { get; set; }
    [MemoryPackOrder(20)] public bool NmiPending { get; set; }
    [MemoryPackOrder(21)] public bool NmiBlocked { get; set; }
    [MemoryPackOrder(22)] public ushort FpuControl { get; set; }
    [MemoryPackOrder(23)] public ushort FpuStatus { get; set; }
    [MemoryPackOrder(24)] public ushort FpuTag { get; set; }
    [MemoryPackOrder(25)] public uint FpuInstructionPointer { get; set; }
    [MemoryPackOrder(26)] public ushort FpuCodeSelector { get; set; }
    [MemoryPackOrder(27)] public uint FpuDataPointer { get; set; }
    [MemoryPackOrder(28)] public ushort FpuDataSelector { get; set; }
    [MemoryPackOrder(29)] public ushort FpuLastOpcode { get; set; }
    [MemoryPackOrder(30)] public ushort[] FpuSignExponents { get; set; } = new ushort[8];
    [MemoryPackOrder(31)] public ulong[] FpuSignificands { get; set; } = new ulong[8];
    [MemoryPackOrder(32)] public uint[] ParavirtMsrIndices { get; set; } = [];
    [MemoryPackOrder(33)] public ulong[] ParavirtMsrValues { get; set; } = [];
    [MemoryPackOrder(34)] public ulong PvClockAnchorTsc { get; set; }
    [MemoryPackOrder(35)] public ulong PvClockAnchorNs { get; set; }

    public static CpuImage From(CpuSnapshot s) => new()
    {
        Registers = s.Registers,
        Eip = s.Eip,
        Eflags = s.Eflags,
        Cpl = s.Cpl,
        Segments = s.Segments.Select(SegmentImage.From).ToArray(),
        Ldtr = SegmentImage.From(s.Ldtr),
        Tr = SegmentImage.From(s.Tr),
        GdtrBase = s.Gdtr.Base,
        GdtrLimit = s.Gdtr.Limit,
        IdtrBase = s.Idtr.Base,
        IdtrLimit = s.Idtr.Limit,
        ControlRegisters = [s.Cr0, 0, s.Cr2, s.Cr3, s.Cr4],
        DebugRegisters = s.DebugRegisters,
        MsrIndices = s.Msrs.Select(m => m.Key).ToArray(),
        MsrValues = s.Msrs.Select(m => m.Value).ToArray(),
        Tsc = s.Tsc,
        InstructionsRetired = s.InstructionsRetired,
        Halted = s.Halted,
        InterruptShadow = s.InterruptShadow,
        MovSsShadow = s.MovSsShadow,
        NmiPending = s.NmiPending,
        NmiBlocked = s.NmiBlocked,
        FpuControl = s.FpuControl,
        FpuStatus = s.FpuStatus,
        FpuTag = s.FpuTag,
        FpuInstructionPointer = s.FpuInstructionPointer,
        FpuCodeSelector = s.FpuCodeSelector,
        FpuDataPointer = s.FpuDataPointer,
        FpuDataSelector = s.FpuDataSelector,
        FpuLastOpcode = s.FpuLastOpcode,
        FpuSignExponents = s.FpuSignExponents,
        FpuSignificands = s.FpuSignificands,
        ParavirtMsrIndices = s.ParavirtMsrs.Select(m => m.Key).ToArray(),
        ParavirtMsrValues = s.ParavirtMsrs.Select(m => m.Value).ToArray(),
        PvClockAnchorTsc = s.PvClockAnchorTsc,
        PvClockAnchorNs = s.PvClockAnchorNs,
    };

    /// <summary>Back to the engine's form; a malformed image (wrong counts) throws <see cref="InvalidDataException"/>.</summary>
    public CpuSnapshot ToSnapshot()
    {
        if (Segments.Length != 6 || ControlRegisters.Length != 5 || MsrIndices.Length != MsrValues.Length)
            throw new InvalidDataException("the CPU state has the wrong number of segments, control registers or MSR values");
        return new CpuSnapshot
        {
            Registers = Registers,
            Eip = Eip,
            Eflags = Eflags,
            Cpl = Cpl,
            Segments = Segments.Select(x => x.ToRegister()).ToArray(),
            Ldtr = Ldtr.ToRegister(),
            Tr = Tr.ToRegister(),
            Gdtr = new DescriptorTableRegister { Base = GdtrBase, Limit = GdtrLimit },
            Idtr = new DescriptorTableRegister { Base = IdtrBase, Limit = IdtrLimit },
            Cr0 = ControlRegisters[0],
            Cr2 = ControlRegisters[2],
            Cr3 = ControlRegisters[3],
            Cr4 = ControlRegisters[4],
            DebugRegisters = DebugRegisters,
            Msrs = MsrIndices.Zip(MsrValues, (k, v) => new KeyValuePair<uint, ulong>(k, v)).ToArray(),
            Tsc = Tsc,
            InstructionsRetired = InstructionsRetired,
            Halted = Halted,
            InterruptShadow = InterruptShadow,
            MovSsShadow = MovSsShadow,
            NmiPending = NmiPending,
            NmiBlocked = NmiBlocked,
            FpuControl = FpuControl,
            FpuStatus = FpuStatus,
            FpuTag = FpuTag,
            FpuInstructionPointer = FpuInstructionPointer,
            FpuCodeSelector = FpuCodeSelector,
            FpuDataPointer = FpuDataPointer,
            FpuDataSelector = FpuDataSelector,
            FpuLastOpcode = FpuLastOpcode,
            FpuSignExponents = FpuSignExponents,
            FpuSignificands = FpuSignificands,
            ParavirtMsrs = ParavirtMsrIndices.Zip(ParavirtMsrValues, (k, v) => new KeyValuePair<uint, ulong>(k, v)).ToArray(),
            PvClockAnchorTsc = PvClockAnchorTsc,
            PvClockAnchorNs = PvClockAnchorNs,
        };
    }
}

/// <summary>A segment register with its hidden part (base, limit, VMX-style attributes).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class SegmentImage
{
    [MemoryPackOrder(0)] public ushort Selector { get; set; }
    [MemoryPackOrder(1)] public uint Base { get; set; }
    [MemoryPackOrder(2)] public uint Limit { get; set; }
    [MemoryPackOrder(3)] public ushort Attributes { get; set; }

    public static SegmentImage From(SegmentRegister r) => new() { Selector = r.Selector, Base = r.Base, Limit = r.Limit, Attributes = r.Attributes };

    public SegmentRegister ToRegister() => new() { Selector = Selector, Base = Base, Limit = Limit, Attributes = Attributes };
}
