namespace Virt.Cpu.Execution;

/// <summary>What raised an interrupt: decides gate DPL checks, the EXT bit, and the return address.</summary>
internal enum InterruptKind
{
    /// <summary>A fault or abort raised by the CPU (EXT = 1; returns to the faulting instruction).</summary>
    Exception,
    /// <summary>A trap raised by the CPU after an instruction (single-step #DB).</summary>
    Trap,
    /// <summary>INT n: the gate's DPL must be at least CPL; EXT = 0.</summary>
    Software,
    /// <summary>INT3 and INTO: like INT n for privilege, but exceptions by vector number.</summary>
    SoftwareException,
    /// <summary>INT1 (ICEBP): delivered like a hardware #DB, without the gate DPL check.</summary>
    Icebp,
    /// <summary>INTR from the interrupt controller (EXT = 1).</summary>
    External,
    Nmi,
}
