using Virt.DeviceModelKit.Assist;
using Virt.Shared.Abi;

namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// What a device model gives the <see cref="ExitServer"/>: its devices, reached by address. The
/// server calls it under <see cref="Lock"/> for each published exit, in this order: the batched
/// writes the exit carries (<see cref="WriteBatched"/>), then the exit itself (<see cref="Dispatch"/>,
/// or <see cref="PortAt"/> for an assisted string instruction), then <see cref="Served"/>.
/// </summary>
public interface IExitHandler
{
    /// <summary>Serialises every call into the devices: the exit servers of all VCPUs take it, and so must the model's own threads (timers, console input).</summary>
    object Lock { get; }

    /// <summary>
    /// Performs one batched write of the OUT ring (a port or MMIO write nothing waited for). Returns the
    /// value the VM is to end with when the write asked to stop it (an exit port), else null.
    /// </summary>
    uint? WriteBatched(in OutRingSlot slot);

    /// <summary>
    /// Serves the exit in place: for a read, write exit.Data (or the data page for string I/O), then
    /// return the status; <paramref name="arg"/> is the completion's StatusArg (StopVm's value, the PlatformEvent).
    /// </summary>
    CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint arg);

    /// <summary>The port an assisted REP INS/OUTS at <paramref name="port"/> moves its elements through, or null when nothing claims it.</summary>
    IPortIo? PortAt(ushort port);

    /// <summary>
    /// The exit is served with <paramref name="status"/> and about to complete: republish cached reads
    /// (unless NeedState: the exit will be served again), keep crash state current.
    /// </summary>
    void Served(in ExitRecord exit, CompletionStatus status);
}
