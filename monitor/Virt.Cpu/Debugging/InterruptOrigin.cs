namespace Virt.Cpu.Debugging;

/// <summary>Where an interrupt being delivered came from, for logs.</summary>
public enum InterruptOrigin
{
    /// <summary>A fault or abort the CPU raised (#PF, #GP, ...).</summary>
    Exception,
    /// <summary>A trap after an instruction (the single-step #DB).</summary>
    Trap,
    /// <summary>INT n, INT3, INTO or INT1 in the instruction stream.</summary>
    Software,
    /// <summary>INTR from the interrupt controller.</summary>
    External,
    Nmi,
}
