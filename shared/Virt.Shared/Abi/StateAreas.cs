using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>GPRS area (0x1C0): the general registers in x86 encoding order, EIP and EFLAGS.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct GprArea
{
    [FieldOffset(0x00)] public uint Eax;
    [FieldOffset(0x04)] public uint Ecx;
    [FieldOffset(0x08)] public uint Edx;
    [FieldOffset(0x0C)] public uint Ebx;
    [FieldOffset(0x10)] public uint Esp;
    [FieldOffset(0x14)] public uint Ebp;
    [FieldOffset(0x18)] public uint Esi;
    [FieldOffset(0x1C)] public uint Edi;
    [FieldOffset(0x20)] public uint Eip;
    [FieldOffset(0x24)] public uint Eflags;
}

/// <summary>One segment register (or LDTR/TR) with its hidden descriptor cache.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct SegmentArea
{
    [FieldOffset(0x00)] public uint Base;
    [FieldOffset(0x04)] public uint Limit;
    [FieldOffset(0x08)] public ushort Selector;
    /// <summary>Descriptor bits 40-47 (type, S, DPL, P) in bits 0-7 and 52-55 (AVL, L, D/B, G) in bits 12-15, as VMX encodes them.</summary>
    [FieldOffset(0x0C)] public uint Attributes;
}

/// <summary>GDTR / IDTR.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct TableArea
{
    [FieldOffset(0x00)] public uint Base;
    [FieldOffset(0x04)] public uint Limit;
}

/// <summary>SEGS area (0x200): ES CS SS DS FS GS LDTR TR, GDTR, IDTR.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public struct SegsArea
{
    [FieldOffset(0x00)] public SegmentArea Es;
    [FieldOffset(0x10)] public SegmentArea Cs;
    [FieldOffset(0x20)] public SegmentArea Ss;
    [FieldOffset(0x30)] public SegmentArea Ds;
    [FieldOffset(0x40)] public SegmentArea Fs;
    [FieldOffset(0x50)] public SegmentArea Gs;
    [FieldOffset(0x60)] public SegmentArea Ldtr;
    [FieldOffset(0x70)] public SegmentArea Tr;
    [FieldOffset(0x80)] public TableArea Gdtr;
    [FieldOffset(0x88)] public TableArea Idtr;
}

/// <summary>CRS area (0x300).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct CrArea
{
    [FieldOffset(0x00)] public uint Cr0;
    [FieldOffset(0x04)] public uint Cr2;
    [FieldOffset(0x08)] public uint Cr3;
    [FieldOffset(0x0C)] public uint Cr4;
}

/// <summary>DRS area (0x340): DR0-DR7 (DR4/DR5 are aliases and kept as written).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct DrArea
{
    [FieldOffset(0x00)] public fixed uint Dr[8];
}

/// <summary>One MSR slot of the MSRS area.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct MsrSlot
{
    [FieldOffset(0x00)] public uint Index;
    [FieldOffset(0x08)] public ulong Value;
}

/// <summary>MSRS area (0x380): Count valid slots (at most 15) of (index, value).</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public unsafe struct MsrArea
{
    [FieldOffset(0x00)] public uint Count;
    /// <summary>15 slots of 16 bytes from offset 0x10 (fixed buffers cannot hold structs: use <see cref="CommPageAccess.Msr"/>).</summary>
    [FieldOffset(0x10)] public fixed byte Slots[CommPageLayout.MsrSlots * 16];
}

/// <summary>INTR area (0x480): interrupt state the device side may need (an NMI to inject, the STI/MOV SS shadow).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct IntrArea
{
    /// <summary>1 = an STI / MOV SS interrupt shadow is active.</summary>
    [FieldOffset(0x00)] public byte InterruptShadow;
    /// <summary>Commit with 1 to inject an NMI before the next instruction.</summary>
    [FieldOffset(0x01)] public byte NmiPending;
}

/// <summary>FPU area (0x500): an FXSAVE image (512 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 512)]
public unsafe struct FpuArea
{
    [FieldOffset(0x00)] public fixed byte Fxsave[512];
}
