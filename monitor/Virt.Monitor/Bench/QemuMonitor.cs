using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Virt.Monitor.Bench;

/// <summary>QEMU's human monitor (HMP) on a Unix socket (-monitor unix:PATH,server,nowait): one command, its answer up to the next prompt.</summary>
public sealed class QemuMonitor : IDisposable
{
    private const string Prompt = "(qemu) ";
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[65536];

    private QemuMonitor(Socket socket) => _socket = socket;

    /// <summary>Connects as soon as QEMU listens (it creates the socket early in its start-up).</summary>
    public static async Task<QemuMonitor> ConnectAsync(string path, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path));
                var m = new QemuMonitor(s);
                await m.ReadToPromptAsync();
                return m;
            }
            catch (SocketException) when (sw.Elapsed < timeout)
            {
                s.Dispose();
                await Task.Delay(1);
            }
        }
    }

    public async Task<string> CommandAsync(string command)
    {
        await _socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"));
        return await ReadToPromptAsync();
    }

    private async Task<string> ReadToPromptAsync()
    {
        var answer = new StringBuilder();
        while (!answer.ToString().EndsWith(Prompt, StringComparison.Ordinal))
        {
            int n = await _socket.ReceiveAsync(_buffer);
            if (n == 0) throw new IOException("QEMU closed its monitor");
            answer.Append(Encoding.ASCII.GetString(_buffer, 0, n));
        }
        return answer.ToString();
    }

    /// <summary>Polls <paramref name="command"/> until its answer contains <paramref name="text"/>.</summary>
    public async Task WaitForAsync(string command, string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!(await CommandAsync(command)).Contains(text, StringComparison.Ordinal))
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"QEMU's '{command}' did not say '{text}' within {timeout.TotalSeconds} s");
            await Task.Delay(1);
        }
    }

    public void Dispose() => _socket.Dispose();
}
