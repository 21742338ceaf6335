using System.Net.Sockets;
using System.Text;

namespace Virt.Integration.Tests.Debug;

/// <summary>
/// A raw GDB remote protocol client for the stub's tests: sends packets (or any bytes at all) and
/// reads what comes back, with the acknowledgements kept apart from the replies. Every read has a
/// deadline, so a stub that never answers fails the test instead of hanging it.
/// </summary>
public sealed class GdbClient : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Queue<byte> _pending = new();

    private GdbClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<GdbClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        return new GdbClient(tcp);
    }

    public static string Frame(string data)
    {
        byte sum = 0;
        foreach (char c in data) sum += (byte)c;
        return $"${data}#{sum:x2}";
    }

    public void SendRaw(string bytes) => SendRaw(Encoding.Latin1.GetBytes(bytes));

    public void SendRaw(byte[] bytes) => _stream.Write(bytes);

    /// <summary>Sends a packet and returns the reply (after the stub's '+').</summary>
    public async Task<string> RequestAsync(string data)
    {
        SendRaw(Frame(data));
        Assert.Equal('+', await ReadByteAsync());
        return await ReadPacketAsync();
    }

    /// <summary>Sends a packet that has no immediate reply (c, s) and checks it was taken.</summary>
    public async Task SendAsync(string data)
    {
        SendRaw(Frame(data));
        Assert.Equal('+', await ReadByteAsync());
    }

    /// <summary>The next packet from the stub, acknowledged; '+'/'-' before it are skipped.</summary>
    public async Task<string> ReadPacketAsync()
    {
        char c;
        do c = await ReadByteAsync(); while (c != '$');
        var sb = new StringBuilder();
        while ((c = await ReadByteAsync()) != '#') sb.Append(c);
        await ReadByteAsync();
        await ReadByteAsync();
        SendRaw("+");
        return sb.ToString();
    }

    public async Task<char> ReadByteAsync()
    {
        if (_pending.Count > 0) return (char)_pending.Dequeue();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(Deadline);
        int n = await _stream.ReadAsync(buffer, cts.Token);
        if (n == 0) throw new IOException("the stub closed the connection");
        for (int i = 0; i < n; i++) _pending.Enqueue(buffer[i]);
        return (char)_pending.Dequeue();
    }

    public void Dispose() => _tcp.Dispose();
}
