using System.Net;
using System.Net.Sockets;

namespace Virt.Monitor.Debug;

/// <summary>
/// The GDB stub's listener (-s, --gdb): bound to 127.0.0.1 only, one debugger at a time (a second
/// connection is closed at once, as is any that does not come from the loopback address). Opened
/// before the guest runs, so a port in use is a usage error, not a run without its debugger.
/// </summary>
public sealed class GdbServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly GuestDebugger _debugger;
    private readonly Action _kill;
    private readonly CancellationTokenSource _cancel = new();
    private Task _accepting = Task.CompletedTask;
    private Task _session = Task.CompletedTask;

    private GdbServer(Socket listener, GuestDebugger debugger, Action kill)
    {
        _listener = listener;
        _debugger = debugger;
        _kill = kill;
    }

    /// <summary>Binds and listens; throws <see cref="SocketException"/> when the port is taken.</summary>
    public static GdbServer Listen(GdbEndpoint endpoint, GuestDebugger debugger, Action kill)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            s.Bind(endpoint.EndPoint);
            s.Listen(1);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new GdbServer(s, debugger, kill);
    }

    /// <summary>The port listened on (the one chosen, for tcp::0).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public void Start() => _accepting = AcceptAsync(_cancel.Token);

    private async Task AcceptAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(cancel);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            if (client.RemoteEndPoint is not IPEndPoint { Address: var from } || !IPAddress.IsLoopback(from) || !_session.IsCompleted)
            {
                client.Dispose();
                continue;
            }
            client.NoDelay = true; // one small packet at a time, each waited for
            _session = new GdbSession(client, _debugger, _kill).RunAsync(cancel);
        }
    }

    /// <summary>
    /// Closes the listener and the connection. A stop reply the VM's end produced (W) is given a
    /// moment to go out first, so gdb sees the exit status rather than a dropped connection.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAny(_session, Task.Delay(TimeSpan.FromSeconds(1)));
        _cancel.Cancel();
        _listener.Dispose();
        try
        {
            await Task.WhenAny(Task.WhenAll(_accepting, _session), Task.Delay(TimeSpan.FromSeconds(2)));
        }
        finally
        {
            _cancel.Dispose();
        }
    }
}
