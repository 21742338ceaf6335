using Virt.Shared.Control;

namespace Virt.DeviceModelKit.Attach;

/// <summary>The first frames of an attach (docs/control-protocol.md): Hello with the secret; Welcome, or Refused; the device state blobs Welcome announces.</summary>
internal static class Handshake
{
    public static async Task<(Welcome Welcome, List<DeviceState> Saved)> ExchangeAsync(ControlConnection conn, string name, byte[] secret, Features offered)
    {
        await conn.SendAsync(new Hello(Protocol.Version, offered, secret, name, Environment.ProcessId).ToFrame());
        var first = await conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the handshake");
        if (first.Type == MessageType.Refused)
        {
            var r = Refused.Read(first.Payload);
            throw new AttachRefusedException($"attach refused ({r.Code}): {r.Reason}");
        }
        if (first.Type != MessageType.Welcome) throw new ProtocolException($"expected Welcome, got {first.Type}");
        Welcome w = Welcome.Read(first.Payload);
        var saved = new List<DeviceState>();
        for (uint i = 0; i < w.StateBlobs; i++)
        {
            var f = await conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the handshake");
            if (f.Type != MessageType.DeviceState) throw new ProtocolException($"expected DeviceState, got {f.Type}");
            saved.Add(DeviceState.Read(f.Payload));
        }
        return (w, saved);
    }
}
