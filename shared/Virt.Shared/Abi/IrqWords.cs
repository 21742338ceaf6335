using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// ISA IRQ lines driven by the device model (only in VCPU 0's page). The device model changes
/// Level and Raised with atomic OR/AND, then increments Seq and, if MonitorIdle is set, wakes
/// the monitor with FUTEX_WAKE on Seq. The monitor takes Raised with an atomic exchange, so an
/// edge that rises and falls between two polls is not lost.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct IrqWords
{
    /// <summary>Bit n = line n is high now (bits 0-15; others are refused).</summary>
    [FieldOffset(0x00)] public uint Level;
    /// <summary>Bit n = line n rose since the monitor last took this word.</summary>
    [FieldOffset(0x04)] public uint Raised;
    /// <summary>Incremented after every change; the futex word a halted VCPU sleeps on.</summary>
    [FieldOffset(0x08)] public uint Seq;
    /// <summary>Monitor writes 1 while its VCPU sleeps in HLT waiting on Seq.</summary>
    [FieldOffset(0x0C)] public uint MonitorIdle;
}
