using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Virt.Shared.Control;

/// <summary>
/// One end of the control socket: framed messages over System.IO.Pipelines. Receive is meant for
/// one reader task; Send may be called from any thread (serialised by a lock).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public ControlConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream);
        _writer = PipeWriter.Create(_stream);
    }

    /// <summary>Connects to a monitor's control socket.</summary>
    public static async Task<ControlConnection> ConnectAsync(string path, CancellationToken ct = default)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new ControlConnection(s);
    }

    public Socket Socket => _socket;

    /// <summary>
    /// The pid of the process at the other end, from the kernel (SO_PEERCRED: the process that
    /// connected), or 0 when it cannot be read. Never taken from a message: a peer could name any
    /// process there, and the monitor kills the pid of a device model it retires.
    /// </summary>
    public int PeerPid
    {
        get
        {
            const int SolSocket = 1, SoPeerCred = 17; // Linux; struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            Span<byte> ucred = stackalloc byte[12];
            try
            {
                return _socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred) == 12 ? BinaryPrimitives.ReadInt32LittleEndian(ucred) : 0;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return 0;
            }
        }
    }

    /// <summary>The next frame, or null at end of stream. A malformed frame throws <see cref="ProtocolException"/>.</summary>
    public async Task<(MessageType Type, byte[] Payload)?> ReceiveAsync(CancellationToken ct = default)
    {
        while (true)
        {
            ReadResult result = await _reader.ReadAsync(ct);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (TryParse(ref buffer, out var frame))
            {
                _reader.AdvanceTo(buffer.Start);
                return frame;
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty) throw new ProtocolException("connection closed in the middle of a frame");
                return null;
            }
        }
    }

    private static bool TryParse(ref ReadOnlySequence<byte> buffer, out (MessageType, byte[]) frame)
    {
        frame = default;
        if (buffer.Length < Protocol.HeaderSize) return false;
        Span<byte> header = stackalloc byte[Protocol.HeaderSize];
        buffer.Slice(0, Protocol.HeaderSize).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        if (length > Protocol.MaxPayload) throw new ProtocolException($"frame of {length} bytes exceeds the {Protocol.MaxPayload}-byte limit");
        if (reserved != 0) throw new ProtocolException("reserved header bits set");
        if (buffer.Length < Protocol.HeaderSize + length) return false;
        byte[] payload = buffer.Slice(Protocol.HeaderSize, length).ToArray();
        buffer = buffer.Slice(Protocol.HeaderSize + length);
        frame = ((MessageType)type, payload);
        return true;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        await _sendLock.WaitAsync(ct);
        try
        {
            await _writer.WriteAsync(frame, ct);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await _writer.CompleteAsync(); } catch (IOException) { } catch (SocketException) { } catch (ObjectDisposedException) { }
        try { await _reader.CompleteAsync(); } catch (IOException) { } catch (ObjectDisposedException) { }
        await _stream.DisposeAsync();
        _sendLock.Dispose();
    }
}
