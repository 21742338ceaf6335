namespace Virt.Cpu.Paravirt;

/// <summary>
/// The entries of this monitor's call table, by number: entry n is the 32-byte stub at
/// table + 32 x n (docs/paravirt.md gives each one's arguments, result and clobbers). The hot
/// entries (<see cref="Cli"/> to <see cref="IrqEnableAndHalt"/>) are plain guest code; the others
/// reach the monitor through one VMCALL with <see cref="VirtAbi.CallBase"/> + n in EAX.
/// </summary>
public enum VirtCall : uint
{
    Cli = 0,
    Sti = 1,
    SaveFl = 2,
    RestoreFl = 3,
    IrqEnableAndHalt = 4,
    Halt = 5,
    ConsoleWrite = 6,
    PortWriteBatch = 7,
    ReadTime = 8,
    FlushTlb = 9,
    /// <summary>The guest firmware's console output (its handler only; -1 elsewhere): EAX buffer, EDX length.</summary>
    FirmwareOutput = 10,
    /// <summary>An ISA IRQ line the guest firmware's device drives (its handler only): EAX line, EDX level.</summary>
    FirmwareIrq = 11,
}
