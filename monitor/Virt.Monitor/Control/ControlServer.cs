using System.Net.Sockets;
using System.Security.Cryptography;
using Virt.Monitor.Vm;
using Virt.Shared.Control;

namespace Virt.Monitor.Control;

/// <summary>
/// The VM's control socket. Two kinds of peer, both authorized by the per-launch secret: device
/// models (Hello: version and feature negotiation, claims, Ready, then state transfer on request;
/// any number at once, each with its own comm region) and management clients (Manage: virt list,
/// attach, detach). The attachment logic lives in <see cref="AttachmentManager"/>; this class is
/// the transport and the protocol checks.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(5);

    private readonly string _socketPath;
    private readonly AttachmentManager _manager;
    private readonly Func<ulong> _instructions;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = new();
    private readonly List<ControlConnection> _open = new();
    private Task? _acceptLoop;
    private int _refused;

    public ControlServer(string socketPath, AttachmentManager manager, Func<ulong> instructions)
    {
        _socketPath = socketPath;
        _manager = manager;
        _instructions = instructions;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    }

    public int RefusedAttaches => _refused;

    public void Start()
    {
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(8);
        _acceptLoop = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            var conn = new ControlConnection(s);
            lock (_connections)
            {
                _open.Add(conn);
                _connections.Add(HandleAsync(conn));
            }
        }
    }

    private async Task HandleAsync(ControlConnection conn)
    {
        DeviceModelAttachment? att = null;
        string lost = "the device model closed the control socket";
        try
        {
            using var helloTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            helloTimeout.CancelAfter(HelloTimeout);
            var first = await conn.ReceiveAsync(helloTimeout.Token);
            if (first is null) return;
            if (first.Value.Type == MessageType.Manage)
            {
                await ManageAsync(conn, Manage.Read(first.Value.Payload));
                return;
            }
            if (first.Value.Type != MessageType.Hello)
            {
                await RefuseAsync(conn, RefusalCode.ProtocolError, $"expected Hello or Manage, got message type {(ushort)first.Value.Type}");
                return;
            }
            Hello hello = Hello.Read(first.Value.Payload);
            if (!CryptographicOperations.FixedTimeEquals(hello.Secret, _manager.Secret))
            {
                await RefuseAsync(conn, RefusalCode.BadSecret, "wrong secret: only a device model launched or authorized by this virt may attach");
                Console.Error.WriteLine($"virt: refused an attach from '{hello.Name}' (pid {hello.Pid}): wrong secret");
                return;
            }
            if (hello.Version >> 16 != Protocol.Major)
            {
                await RefuseAsync(conn, RefusalCode.VersionMismatch, $"protocol {hello.Version >> 16}.{hello.Version & 0xFFFF} is not compatible with {Protocol.Major}.{Protocol.Minor}");
                return;
            }
            att = await _manager.BeginAttachAsync(hello, conn);
            await conn.SendAsync(_manager.WelcomeFor(att).ToFrame(), _stop.Token);
            foreach (DeviceState s in att.Restore) await conn.SendAsync(s.ToFrame(), _stop.Token);

            bool ready = false;
            while (await conn.ReceiveAsync(_stop.Token) is { } frame)
            {
                switch (frame.Type)
                {
                    case MessageType.Claim when !ready:
                    {
                        Claim c = Claim.Read(frame.Payload);
                        string? error = _manager.Claim(att, c);
                        if (error is not null) Console.Error.WriteLine($"virt: refused claim from '{hello.Name}': {error}");
                        await conn.SendAsync(new ClaimResult(c.Id, error is null, error ?? "").ToFrame(), _stop.Token);
                        break;
                    }
                    case MessageType.Ready when !ready:
                        ready = true;
                        await _manager.CompleteAttachAsync(att);
                        break;
                    case MessageType.DeviceState when ready:
                        att.OnDeviceState(DeviceState.Read(frame.Payload));
                        break;
                    case MessageType.StateSaved when ready:
                        att.OnStateSaved(StateSaved.Read(frame.Payload));
                        break;
                    default:
                        throw new ProtocolException($"unexpected message type {(ushort)frame.Type}{(ready ? " after Ready" : "")}");
                }
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            lost = "the device model did not say Hello in time";
            await RefuseAsync(conn, RefusalCode.ProtocolError, "no Hello within 5 s");
        }
        catch (OperationCanceledException) { }
        catch (ProtocolException e)
        {
            lost = $"protocol error from the device model: {e.Message}";
            await RefuseAsync(conn, RefusalCode.ProtocolError, e.Message);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            lost = $"control socket error: {e.Message}";
        }
        finally
        {
            if (att is not null && !_stop.IsCancellationRequested) _manager.OnConnectionLost(att, lost);
            if (att is null)
            {
                lock (_connections) _open.Remove(conn);
                await conn.DisposeAsync();
            }
        }
    }

    /// <summary>A management client: status, attach, detach; one request at a time, each answered.</summary>
    private async Task ManageAsync(ControlConnection conn, Manage hello)
    {
        if (!CryptographicOperations.FixedTimeEquals(hello.Secret, _manager.Secret))
        {
            await RefuseAsync(conn, RefusalCode.BadSecret, "wrong secret: only the user who started this virt may manage it");
            Console.Error.WriteLine($"virt: refused a management connection from '{hello.Client}': wrong secret");
            return;
        }
        if (hello.Version >> 16 != Protocol.Major)
        {
            await RefuseAsync(conn, RefusalCode.VersionMismatch, $"protocol {hello.Version >> 16}.{hello.Version & 0xFFFF} is not compatible with {Protocol.Major}.{Protocol.Minor}");
            return;
        }
        await conn.SendAsync(_manager.Status(_instructions()).ToFrame(), _stop.Token);
        while (await conn.ReceiveAsync(_stop.Token) is { } frame)
        {
            ReadOnlyMemory<byte> reply = frame.Type switch
            {
                MessageType.StatusRequest => _manager.Status(_instructions()).ToFrame(),
                MessageType.AttachRequest => (await _manager.AttachAsync(AttachRequest.Read(frame.Payload))).ToFrame(),
                MessageType.DetachRequest => (await _manager.DetachAsync(DetachRequest.Read(frame.Payload).Target)).ToFrame(),
                _ => throw new ProtocolException($"unexpected message type {(ushort)frame.Type} on a management connection"),
            };
            await conn.SendAsync(reply, _stop.Token);
        }
    }

    private async Task RefuseAsync(ControlConnection conn, RefusalCode code, string reason)
    {
        Interlocked.Increment(ref _refused);
        try
        {
            await conn.SendAsync(new Refused(code, reason).ToFrame());
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        if (_acceptLoop is not null) await _acceptLoop;
        Task[] pending;
        ControlConnection[] open;
        lock (_connections)
        {
            pending = _connections.ToArray();
            open = _open.ToArray();
        }
        try { await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(2)); } catch (TimeoutException) { }
        foreach (ControlConnection c in open) await c.DisposeAsync();
        _stop.Dispose();
        try { File.Delete(_socketPath); } catch (IOException) { }
    }
}
