using System.Globalization;
using System.Net;

namespace Virt.Monitor.Debug;

/// <summary>
/// Where the GDB stub listens, written as QEMU's -gdb: tcp::PORT, tcp:localhost:PORT or
/// tcp:127.0.0.1:PORT (-s is tcp::1234). Only the loopback address: the stub reads and writes the
/// guest's memory and registers for whoever connects, so it is never offered beyond this host.
/// Port 0 picks a free port, which virt prints.
/// </summary>
public sealed record GdbEndpoint(int Port)
{
    public const int DefaultPort = 1234;

    public static GdbEndpoint Default { get; } = new(DefaultPort);

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public static GdbEndpoint Parse(string spec)
    {
        string[] parts = spec.Split(':');
        if (parts is not ["tcp", var host, var port])
            throw new ArgumentException($"--gdb {spec}: expected tcp::PORT or tcp:localhost:PORT (QEMU's -gdb form)");
        if (host is not ("" or "localhost" or "127.0.0.1"))
            throw new ArgumentException($"--gdb {spec}: the GDB stub listens on this host only (tcp::PORT, tcp:localhost:PORT or tcp:127.0.0.1:PORT)");
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p > 65535)
            throw new ArgumentException($"--gdb {spec}: expected a port from 0 to 65535");
        return new GdbEndpoint(p);
    }

    public override string ToString() => $"tcp::{Port}";
}
