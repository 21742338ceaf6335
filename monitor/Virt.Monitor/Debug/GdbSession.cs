using System.Net.Sockets;

namespace Virt.Monitor.Debug;

/// <summary>
/// One debugger connection: reads the socket through <see cref="GdbPacketReader"/>, acknowledges
/// each packet, hands it to <see cref="GdbCommands"/> and sends the reply; after c or s a stop reply
/// follows when the guest stops, while the socket is still read for Ctrl-C. A debugger that
/// connects stops the guest (as QEMU's stub does); one that goes, by D or by closing the
/// connection, leaves it running with no breakpoints.
/// </summary>
public sealed class GdbSession(Socket socket, GuestDebugger debugger, Action kill)
{
    // A peer that NAKs every reply is not served forever.
    private const int MaxResends = 8;

    private readonly NetworkStream _stream = new(socket, ownsSocket: true);
    private readonly GdbCommands _commands = new(debugger);
    private readonly object _sendLock = new();
    private byte[]? _lastPacket;
    private int _resends;
    private bool _detached;

    public async Task RunAsync(CancellationToken cancel)
    {
        debugger.RequestStop(StopEvent.Trap);
        var reader = new GdbPacketReader();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, cancel);
                if (n == 0) break;
                for (int i = 0; i < n; i++)
                {
                    switch (reader.Feed(buffer[i]))
                    {
                        case GdbInput.Packet:
                            SendRaw("+"u8.ToArray());
                            if (!await DispatchAsync(reader.Packet)) return;
                            break;
                        case GdbInput.BadChecksum or GdbInput.TooLong:
                            SendRaw("-"u8.ToArray());
                            break;
                        case GdbInput.Interrupt:
                            debugger.RequestStop(StopEvent.Interrupted);
                            break;
                        case GdbInput.Nak:
                            if (_lastPacket is { } last && _resends++ < MaxResends) SendRaw(last);
                            break;
                        case GdbInput.Ack:
                            _resends = 0;
                            break;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The debugger went away or the VM is ending: the same as a detach.
        }
        finally
        {
            if (!_detached && !cancel.IsCancellationRequested) await debugger.DetachAsync();
            _stream.Dispose();
        }
    }

    /// <summary>Handles one packet; false when the session is over (detach, kill).</summary>
    private async Task<bool> DispatchAsync(string packet)
    {
        var (reply, action) = _commands.Handle(packet);
        if (reply is not null) SendPacket(reply);
        switch (action)
        {
            case GdbAction.Resumed:
                _ = ReportWhenStoppedAsync();
                return true;
            case GdbAction.ReportStop:
                SendPacket(_commands.StopReply(await debugger.WaitForStopAsync()));
                return true;
            case GdbAction.Detach:
                _detached = true;
                await debugger.DetachAsync();
                return false;
            case GdbAction.Kill:
                _detached = true;
                kill();
                return false;
            default:
                return true;
        }
    }

    private async Task ReportWhenStoppedAsync()
    {
        StopEvent stop = await debugger.WaitForStopAsync();
        try
        {
            SendPacket(_commands.StopReply(stop));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // Gone before the guest stopped: nobody to tell.
        }
    }

    private void SendPacket(string data)
    {
        byte[] framed = GdbPacketReader.Frame(data);
        lock (_sendLock)
        {
            _lastPacket = framed;
            _resends = 0;
            _stream.Write(framed);
        }
    }

    private void SendRaw(byte[] bytes)
    {
        lock (_sendLock) _stream.Write(bytes);
    }
}
