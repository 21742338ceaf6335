using Virt.Shared.Abi;

namespace Virt.DeviceModel.Exits;

/// <summary>What the exit server hands each published exit to: the device bus, or the benchmark echo.</summary>
public interface IExitDispatcher
{
    /// <summary>
    /// Services the exit in place: for reads write exit.Data (or the data page), then return the status.
    /// <paramref name="stopArg"/> is the StatusArg of a StopVm completion.
    /// </summary>
    CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint stopArg);
}
