namespace Virt.Cpu.Firmware;

/// <summary>
/// Why a firmware handler was abandoned. Each one ends the same way for the guest: the access
/// completes as an unclaimed one (reads all-ones, writes dropped) and reflection is off for the rest
/// of the run (docs/firmware-reflection.md).
/// </summary>
public enum FirmwareFailure
{
    /// <summary>The handler raised an exception (#GP, #PF, #UD, ...): firmware mode has no IDT.</summary>
    Fault,
    /// <summary>The handler ran past its instruction budget without RSM.</summary>
    Loop,
    /// <summary>The handler made a port or MMIO access of its own (a nested exit): it reaches the outside only through the call table.</summary>
    NestedExit,
    /// <summary>RSM with a request block whose status is not Completed.</summary>
    BadCompletion,
    /// <summary>HLT with interrupts off in the handler: it would never wake.</summary>
    Halted,
}
