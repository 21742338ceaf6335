using Virt.DeviceModelKit.Assist;
using Virt.DeviceModelKit.Attach;
using Virt.DeviceModelKit.Exits;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;

// A device model in one screen: port 0x510 answers a read with the last value written plus one.
// `virt run --dm PATH` starts it with the control socket and the secret in its environment.
return await DeviceModelProgram.RunAsync("echo-dm", async () =>
{
    string socket = DeviceModelEnvironment.SocketPath(null);
    await using var vm = await DeviceModelAttachment.ConnectAsync(socket, "cs-echo");
    await vm.ClaimAsync(AddressSpace.Port, EchoPort.Port, 1, ClaimFlags.None, "cs-echo");
    vm.StartServing(new EchoPort());     // one exit server thread per VCPU
    await vm.ReadyAsync();               // the guest may run
    await vm.ServeControlAsync(() => []); // until Shutdown; no device state to save
    return 0;
});

/// <summary>The device: called for each exit on the claimed port, under <see cref="Lock"/>.</summary>
internal sealed class EchoPort : IExitHandler
{
    public const ushort Port = 0x510;
    private uint _last;

    public object Lock { get; } = new();

    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint arg)
    {
        arg = 0;
        if (exit.Reason != (uint)ExitReason.PortIo || exit.Address != Port) return CompletionStatus.Unhandled;
        if (exit.Direction == (byte)ExitDirection.Write) _last = (uint)exit.Data;
        else exit.Data = (_last + 1) & IoSize.AllOnes(exit.Size);
        return CompletionStatus.Ok;
    }

    // The claim asked for no batching and no cache: no ring writes, no string assist, nothing to publish.
    public uint? WriteBatched(in OutRingSlot slot) => null;
    public IPortIo? PortAt(ushort port) => null;
    public void Served(in ExitRecord exit, CompletionStatus status) { }
}
