using Virt.Shared.Control;

namespace Virt.Monitor.Control;

/// <summary>The client side of a management connection (virt list / attach / detach), authorized by the VM's secret file.</summary>
public sealed class ManagementClient : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);
    private readonly ControlConnection _conn;

    private ManagementClient(ControlConnection conn, VmStatus status)
    {
        _conn = conn;
        Status = status;
    }

    /// <summary>The status the monitor sent on connecting.</summary>
    public VmStatus Status { get; }

    public static async Task<ManagementClient> ConnectAsync(RunningVm vm)
    {
        byte[] secret = vm.ReadSecret();
        ControlConnection conn = await ControlConnection.ConnectAsync(vm.SocketFile);
        try
        {
            await conn.SendAsync(new Manage(Protocol.Version, secret, $"virt (pid {Environment.ProcessId})").ToFrame());
            var f = await Receive(conn);
            return new ManagementClient(conn, VmStatus.Read(Expect(f, MessageType.VmStatus)));
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    private static async Task<(MessageType Type, byte[] Payload)> Receive(ControlConnection conn) =>
        await conn.ReceiveAsync().WaitAsync(RequestTimeout) ?? throw new IOException("the monitor closed the connection");

    private static byte[] Expect((MessageType Type, byte[] Payload) f, MessageType type)
    {
        if (f.Type == MessageType.Refused) throw new IOException($"refused: {Refused.Read(f.Payload).Reason}");
        return f.Type == type ? f.Payload : throw new ProtocolException($"expected {type}, got {f.Type}");
    }

    public async Task<VmStatus> StatusAsync()
    {
        await _conn.SendAsync(EmptyMessage.Frame(MessageType.StatusRequest));
        return VmStatus.Read(Expect(await Receive(_conn), MessageType.VmStatus));
    }

    public async Task<RequestResult> AttachAsync(string command, string replace)
    {
        await _conn.SendAsync(new AttachRequest(command, replace).ToFrame());
        return RequestResult.Read(Expect(await Receive(_conn), MessageType.RequestResult));
    }

    public async Task<RequestResult> DetachAsync(string target)
    {
        await _conn.SendAsync(new DetachRequest(target).ToFrame());
        return RequestResult.Read(Expect(await Receive(_conn), MessageType.RequestResult));
    }

    /// <summary>The monitor's counters now (protocol 1.4). A monitor that predates it refuses the request and closes.</summary>
    public async Task<StatsSnapshot> StatsAsync()
    {
        await _conn.SendAsync(EmptyMessage.Frame(MessageType.StatsRequest));
        var f = await Receive(_conn);
        if (f.Type == MessageType.Refused)
            throw new IOException($"the monitor does not serve live statistics (it needs protocol {Protocol.Major}.4): {Refused.Read(f.Payload).Reason}");
        return StatsSnapshot.Read(Expect(f, MessageType.StatsSnapshot));
    }

    public async Task<RequestResult> SaveAsync(string path, bool stop)
    {
        await _conn.SendAsync(new SaveRequest(path, stop).ToFrame());
        return RequestResult.Read(Expect(await Receive(_conn), MessageType.RequestResult));
    }

    /// <summary>Loads a snapshot into a VM waiting for one (virt run --incoming): protocol 1.6.</summary>
    public async Task<RequestResult> RestoreAsync(string path)
    {
        await _conn.SendAsync(new RestoreRequest(path).ToFrame());
        return RequestResult.Read(Expect(await Receive(_conn), MessageType.RequestResult));
    }

    public ValueTask DisposeAsync() => _conn.DisposeAsync();
}
