namespace Virt.Cpu.Debugging;

/// <summary>
/// What the CPU tells a log about the guest (the monitor's -d switch): each interrupt or exception
/// it starts to deliver and each access to an MSR it does not have. Unset, each of these costs one
/// null check where it happens, never on the instruction path.
/// </summary>
public interface ICpuEventLog
{
    /// <summary>
    /// An interrupt or exception about to go through the IDT (or IVT). The instruction it interrupts
    /// or follows is CS:EIP of the CPU state, which CpuState reads during the call.
    /// </summary>
    void Interrupt(int vector, InterruptOrigin origin, uint errorCode, bool hasErrorCode);

    /// <summary>RDMSR or WRMSR of an MSR this CPU does not have (the guest then takes #GP).</summary>
    void UnknownMsr(uint index, bool write, ulong value);
}
