using Virt.DeviceModelKit.Assist;
using Virt.DeviceModelKit.Exits;
using Virt.Shared.Abi;

namespace Virt.BenchDeviceModel;

/// <summary>`virt bench wakeup`'s device: answers every read with Address + 1 so the monitor can check the round trip; nothing else.</summary>
public sealed class EchoHandler : IExitHandler
{
    /// <summary>The ports the benchmark reads.</summary>
    public const ushort Base = 0xBE00, Count = 0x100;

    public object Lock { get; } = new();

    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint arg)
    {
        arg = 0;
        if (exit.Direction == (byte)ExitDirection.Read) exit.Data = exit.Address + 1;
        return CompletionStatus.Ok;
    }

    public uint? WriteBatched(in OutRingSlot slot) => null;

    public IPortIo? PortAt(ushort port) => null;

    public void Served(in ExitRecord exit, CompletionStatus status) { }
}
