namespace Virt.Cpu.Execution;

/// <summary>Why <see cref="Cpu.Run"/> returned to its caller.</summary>
public enum StopReason
{
    /// <summary>The instruction budget given to Run was used up.</summary>
    BudgetExhausted,
    /// <summary>HLT with no interrupt deliverable: the host should wait for one and call Run again.</summary>
    Halted,
    /// <summary>Triple fault or a shutdown cycle: the VM is dead; <see cref="Cpu.ShutdownReason"/> says why.</summary>
    Shutdown,
    /// <summary>Another thread called <see cref="Cpu.RequestStop"/>.</summary>
    StopRequested,
}
