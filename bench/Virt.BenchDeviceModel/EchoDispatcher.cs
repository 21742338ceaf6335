using Virt.DeviceModel.Exits;
using Virt.Shared.Abi;

namespace Virt.DeviceModel.Bench;

/// <summary>`virt bench wakeup`'s device: answers every read with Address + 1 so the monitor can check the round trip.</summary>
public sealed class EchoDispatcher : IExitDispatcher
{
    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint stopArg)
    {
        stopArg = 0;
        if (exit.Direction == (byte)ExitDirection.Read) exit.Data = exit.Address + 1;
        return CompletionStatus.Ok;
    }
}
