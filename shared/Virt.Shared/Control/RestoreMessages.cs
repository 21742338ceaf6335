namespace Virt.Shared.Control;

// Restore into a waiting VM (protocol 1.6, docs/control-protocol.md "Restore into a waiting VM").

/// <summary>
/// Management client to monitor (protocol 1.6): load the snapshot at <see cref="Path"/> (absolute, as the monitor
/// sees it) into this VM, which waits for one (virt run --incoming), and run it. Answered with RequestResult.
/// </summary>
public sealed record RestoreRequest(string Path)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.RestoreRequest).Str(Path).U8(0).ToFrame();

    public static RestoreRequest Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        string path = r.Str();
        byte flags = r.U8();
        if (flags != 0) throw new ProtocolException($"RestoreRequest flags 0x{flags:X2}: none is defined");
        return new RestoreRequest(path);
    }
}

/// <summary>Monitor to device model (protocol 1.6): <see cref="Count"/> DeviceState frames follow; take them all, or none.</summary>
public sealed record RestoreState(uint Count)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.RestoreState).U32(Count).ToFrame();

    public static RestoreState Read(ReadOnlySpan<byte> p) => new(new PayloadReader(p).U32());
}

/// <summary>Device model to monitor: every state of the RestoreState was taken (<see cref="Ok"/>), or none, and <see cref="Reason"/> says why.</summary>
public sealed record StateRestored(bool Ok, string Reason)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.StateRestored).U8(Ok ? (byte)1 : (byte)0).Str(Reason).ToFrame();

    public static StateRestored Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new StateRestored(r.U8() != 0, r.Str());
    }
}
