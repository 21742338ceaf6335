using System.Net.Sockets;
using System.Security.Cryptography;
using Virt.Monitor.Attachment;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
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
    // Open connections and the task serving each; a connection leaves both when it ends, so
    // nothing accumulates over thousands of short connections.
    private readonly Dictionary<ControlConnection, Task> _connections = new();
    private int _unidentified;
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

    /// <summary>Answers StatsRequest (`virt top`); without it the request is refused as one this monitor does not serve.</summary>
    public LiveStats? LiveStats { get; init; }

    /// <summary>Answers a management client's SaveRequest (virt save); without it the request is refused.</summary>
    public Func<SaveRequest, Task<RequestResult>>? Save { get; init; }

    /// <summary>Answers a management client's RestoreRequest (virt restore); without it the request is refused.</summary>
    public Func<RestoreRequest, Task<RequestResult>>? Restore { get; init; }

    public void Start()
    {
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // Room for a burst of connections (several device models and clients at once); beyond it a
        // connect fails with EAGAIN rather than queueing without bound.
        _listener.Listen(Limits.MaxUnidentified * 2);
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
            string? busy = null;
            lock (_connections)
            {
                if (_connections.Count >= Limits.MaxConnections) busy = $"{_connections.Count} control connections are open (at most {Limits.MaxConnections})";
                else if (_unidentified >= Limits.MaxUnidentified) busy = $"{_unidentified} connections have not said Hello yet (at most {Limits.MaxUnidentified})";
                else
                {
                    _unidentified++;
                    var started = new TaskCompletionSource();
                    _connections[conn] = ServeAsync(conn, started.Task);
                    started.SetResult();
                }
            }
            if (busy is not null) _ = RefuseAndCloseAsync(conn, busy);
        }
    }

    /// <summary>Serves one connection, then forgets it and closes it (whatever happened).</summary>
    private async Task ServeAsync(ControlConnection conn, Task registered)
    {
        await registered; // the dictionary entry exists before this task can remove it
        try
        {
            await HandleAsync(conn);
        }
        finally
        {
            lock (_connections) _connections.Remove(conn);
            await conn.DisposeAsync();
        }
    }

    private async Task RefuseAndCloseAsync(ControlConnection conn, string why)
    {
        await RefuseAsync(conn, RefusalCode.Busy, why);
        await conn.DisposeAsync();
    }

    /// <summary>The connection has sent its first frame (or ended): it no longer counts against <see cref="Limits.MaxUnidentified"/>.</summary>
    private void Identified(ref bool counted)
    {
        if (!counted) return;
        counted = false;
        lock (_connections) _unidentified--;
    }

    private async Task HandleAsync(ControlConnection conn)
    {
        DeviceModelAttachment? att = null;
        string lost = "the device model closed the control socket";
        bool unidentified = true;
        MessageType waitingFor = MessageType.Hello;
        try
        {
            using var helloTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            helloTimeout.CancelAfter(HelloTimeout);
            var first = await conn.ReceiveAsync(helloTimeout.Token);
            Identified(ref unidentified);
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
            // The pid in Hello is the peer's word only; the kernel's (SO_PEERCRED) is the one the monitor uses and shows.
            Hello hello = Hello.Read(first.Value.Payload) with { Pid = conn.PeerPid };
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
            if (NameError(hello.Name) is { } badName)
            {
                await RefuseAsync(conn, RefusalCode.ProtocolError, $"device model name: {badName}");
                return;
            }
            if (_manager.AdmissionError() is { } busy)
            {
                await RefuseAsync(conn, RefusalCode.Busy, busy);
                Console.Error.WriteLine($"virt: refused an attach from '{hello.Name}' (pid {hello.Pid}): {busy}");
                return;
            }
            att = await _manager.BeginAttachAsync(hello, conn);
            await conn.SendAsync(_manager.WelcomeFor(att).ToFrame(), _stop.Token);
            foreach (DeviceState s in att.Restore) await conn.SendAsync(s.ToFrame(), _stop.Token);

            bool ready = false;
            // A handshake holds a comm file and one of few pending slots (Limits): it must reach Ready in time.
            using var readyTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            readyTimeout.CancelAfter(Limits.ReadyTimeout);
            waitingFor = MessageType.Ready;
            while (await conn.ReceiveAsync(ready ? _stop.Token : readyTimeout.Token) is { } frame)
            {
                switch (frame.Type)
                {
                    case MessageType.Claim when !ready:
                        {
                            Claim c = Claim.Read(frame.Payload);
                            ClaimRefusal? refusal = _manager.Claim(att, c);
                            if (refusal is not null) Console.Error.WriteLine($"virt: refused claim from '{hello.Name}': {refusal.Message}");
                            await conn.SendAsync(new ClaimResult(c.Id, refusal is null, refusal?.Message ?? "").ToFrame(), _stop.Token);
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
                    case MessageType.StateRestored when ready:
                        att.OnStateRestored(StateRestored.Read(frame.Payload));
                        break;
                    case MessageType.MetricsReport when ready:
                        att.OnMetricsReport(MetricsReport.Read(frame.Payload));
                        break;
                    default:
                        throw new ProtocolException($"unexpected message type {(ushort)frame.Type}{(ready ? " after Ready" : "")}");
                }
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            TimeSpan limit = waitingFor == MessageType.Hello ? HelloTimeout : Limits.ReadyTimeout;
            lost = $"the device model did not send {waitingFor} within {limit.TotalSeconds} s";
            await RefuseAsync(conn, RefusalCode.ProtocolError, $"no {waitingFor} within {limit.TotalSeconds} s");
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
            Identified(ref unidentified);
            // Marks it closed first, so nothing sends on the connection ServeAsync is about to dispose.
            if (att is not null && !_stop.IsCancellationRequested) _manager.OnConnectionLost(att, lost);
            else att?.MarkConnectionClosed();
        }
    }

    /// <summary>Why a peer's name is refused: empty, too long, or with control characters (it is printed in every message about the peer).</summary>
    private static string? NameError(string name) =>
        name.Length == 0 ? "empty"
        : name.Length > Limits.MaxNameLength ? $"{name.Length} characters, at most {Limits.MaxNameLength}"
        : name.Any(char.IsControl) ? "contains control characters"
        : null;

    /// <summary>A management client: status, attach, detach; one request at a time, each answered.</summary>
    private async Task ManageAsync(ControlConnection conn, Manage hello)
    {
        if (NameError(hello.Client) is { } badName)
        {
            await RefuseAsync(conn, RefusalCode.ProtocolError, $"client name: {badName}");
            return;
        }
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
                MessageType.StatsRequest when LiveStats is { } live => (await live.CaptureAsync()).ToFrame(),
                MessageType.SaveRequest => (Save is { } save
                    ? await save(SaveRequest.Read(frame.Payload))
                    : new RequestResult(false, 0, "this monitor does not save snapshots")).ToFrame(),
                MessageType.RestoreRequest => (Restore is { } restore
                    ? await restore(RestoreRequest.Read(frame.Payload))
                    : new RequestResult(false, 0, "this monitor does not restore snapshots")).ToFrame(),
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
            pending = _connections.Values.ToArray();
            open = _connections.Keys.ToArray();
        }
        try { await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(2)); } catch (TimeoutException) { }
        foreach (ControlConnection c in open) await c.DisposeAsync();
        _stop.Dispose();
        try { File.Delete(_socketPath); } catch (IOException) { }
    }
}
