namespace Virt.Cpu.Exits;

/// <summary>
/// The CPU's INTR input. The engine polls <see cref="HasInterrupt"/> at block boundaries when
/// EFLAGS.IF is set and no interrupt shadow is active, then acknowledges to get the vector, as the
/// INTA cycle does on a real bus. Implemented by the monitor's interrupt controllers.
/// </summary>
public interface IInterruptController
{
    bool HasInterrupt { get; }

    /// <summary>The INTA cycle: returns the vector to deliver, or -1 if the request went away (spurious).</summary>
    int AcknowledgeInterrupt();
}
