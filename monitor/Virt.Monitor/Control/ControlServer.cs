using System.Net.Sockets;
using System.Security.Cryptography;
using Virt.Devices.Bus;
using Virt.Monitor.Exits;
using Virt.Shared.Control;

namespace Virt.Monitor.Control;

/// <summary>
/// The VM's control socket: accepts device models, checks the per-launch secret, negotiates the
/// version and features, takes their claims, and tells the VM when the device model is ready or
/// gone. One device model may be attached at a time (it owns the comm pages' exit records).
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(5);

    private readonly string _socketPath;
    private readonly byte[] _secret;
    private readonly ExitRouter _router;
    private readonly Func<Features, Welcome> _welcome;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<Hello> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _connections = new();
    private ControlConnection? _attached;
    private Task? _acceptLoop;
    private int _refused;

    public ControlServer(string socketPath, byte[] secret, ExitRouter router, Func<Features, Welcome> welcome)
    {
        _socketPath = socketPath;
        _secret = secret;
        _router = router;
        _welcome = welcome;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    }

    /// <summary>Completes with the device model's Hello when it has made its claims and sent Ready.</summary>
    public Task<Hello> Ready => _ready.Task;

    /// <summary>Raised (on a thread-pool thread) when the attached device model's connection closes.</summary>
    public event Action<string>? DeviceModelLost;

    /// <summary>Features accepted for the attached device model.</summary>
    public Features AcceptedFeatures { get; private set; }

    public int RefusedAttaches => _refused;

    /// <summary>Features this VM offers (`virt run --io naive` / `--state naive` take some away).</summary>
    public Features Supported { get; init; } = Features.MonitorSupported;

    public void Start()
    {
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(4);
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
            lock (_connections) _connections.Add(HandleAsync(new ControlConnection(s)));
        }
    }

    private async Task HandleAsync(ControlConnection conn)
    {
        bool attached = false;
        string lost = "the device model closed the control socket";
        try
        {
            using var helloTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            helloTimeout.CancelAfter(HelloTimeout);
            var first = await conn.ReceiveAsync(helloTimeout.Token);
            if (first is null) return;
            if (first.Value.Type != MessageType.Hello)
            {
                await RefuseAsync(conn, RefusalCode.ProtocolError, $"expected Hello, got message type {(ushort)first.Value.Type}");
                return;
            }
            Hello hello = Hello.Read(first.Value.Payload);
            if (!CryptographicOperations.FixedTimeEquals(hello.Secret, _secret))
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
            lock (_connections)
            {
                if (_attached is not null) { attached = false; }
                else { _attached = conn; attached = true; }
            }
            if (!attached)
            {
                await RefuseAsync(conn, RefusalCode.AlreadyAttached, "a device model is already attached to this VM");
                return;
            }
            AcceptedFeatures = hello.Features & Supported;
            await conn.SendAsync(_welcome(AcceptedFeatures).ToFrame(), _stop.Token);

            bool ready = false;
            while (await conn.ReceiveAsync(_stop.Token) is { } frame)
            {
                switch (frame.Type)
                {
                    case MessageType.Claim when !ready:
                    {
                        Claim c = Claim.Read(frame.Payload);
                        string? error = c.Space > 1 ? $"unknown address space {c.Space}"
                            : ClaimFlagsError(c) is { } flagsError ? flagsError
                            : c.Device.Length is 0 or > 64 ? "device name must be 1-64 characters"
                            : _router.TryClaim(new BusRange((BusSpace)c.Space, c.Start, c.Length), c.Device, local: null, (ClaimFlags)c.Flags);
                        if (error is not null) Console.Error.WriteLine($"virt: refused claim from '{hello.Name}': {error}");
                        await conn.SendAsync(new ClaimResult(c.Id, error is null, error ?? "").ToFrame(), _stop.Token);
                        break;
                    }
                    case MessageType.Ready when !ready:
                        ready = true;
                        _ready.TrySetResult(hello);
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
            if (attached && !_stop.IsCancellationRequested)
            {
                _ready.TrySetException(new IOException(lost));
                DeviceModelLost?.Invoke(lost);
            }
            if (!attached) await conn.DisposeAsync();
        }
    }

    /// <summary>A range's policy needs the feature that carries it; MMIO reads are never cached.</summary>
    private string? ClaimFlagsError(Claim c)
    {
        var f = (ClaimFlags)c.Flags;
        if ((f & ~ClaimFlags.All) != 0) return $"claim flags 0x{c.Flags:X} have undefined bits";
        if ((f & ClaimFlags.BatchedWrites) != 0 && (AcceptedFeatures & Features.OutBatchRing) == 0) return "batched writes need the OutBatchRing feature";
        if ((f & ClaimFlags.CachedReads) != 0 && (AcceptedFeatures & Features.InValueTable) == 0) return "cached reads need the InValueTable feature";
        if ((f & ClaimFlags.CachedReads) != 0 && c.Space != (byte)BusSpace.Port) return "cached reads are for port ranges only";
        return null;
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

    /// <summary>Tells the attached device model the VM has ended.</summary>
    public async Task SendShutdownAsync(int status, string reason)
    {
        if (_attached is not { } conn) return;
        try
        {
            await conn.SendAsync(new Shutdown(status, reason).ToFrame());
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        if (_acceptLoop is not null) await _acceptLoop;
        Task[] pending;
        lock (_connections) pending = _connections.ToArray();
        try { await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(2)); } catch (TimeoutException) { }
        if (_attached is not null) await _attached.DisposeAsync();
        _stop.Dispose();
        try { File.Delete(_socketPath); } catch (IOException) { }
    }
}
