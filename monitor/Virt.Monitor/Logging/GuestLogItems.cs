namespace Virt.Monitor.Logging;

/// <summary>What -d logs, as QEMU's -d items of the same names.</summary>
[Flags]
public enum GuestLogItems
{
    None = 0,
    /// <summary>Every interrupt and exception delivered: vector, origin, error code, CS:EIP, SS:ESP, CR2 for #PF.</summary>
    Int = 1,
    /// <summary>The CPU's start state, triple faults (shutdown) and resets the guest asks for.</summary>
    CpuReset = 2,
    /// <summary>What the guest did wrong or the platform does not have: accesses to unclaimed ports and MMIO, unknown MSRs.</summary>
    GuestErrors = 4,
    /// <summary>Every I/O exit: port or MMIO address, size, direction, value, and who answered.</summary>
    Exits = 8,
}
