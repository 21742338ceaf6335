namespace Virt.Cpu.Execution;

/// <summary>
/// The VCPU cannot go on (triple fault, execution from MMIO, an unrecoverable guest state).
/// Caught by the run loop, which returns <see cref="StopReason.Shutdown"/> with the message.
/// Never escapes to the host.
/// </summary>
public sealed class ShutdownException(string reason) : Exception(reason);
