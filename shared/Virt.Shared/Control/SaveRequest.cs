namespace Virt.Shared.Control;

/// <summary>
/// Management client to monitor (protocol 1.4): write a snapshot of the VM to <see cref="Path"/> (absolute,
/// as the monitor sees it), then end the VM when <see cref="Stop"/>, else let it go on. Answered with RequestResult.
/// </summary>
public sealed record SaveRequest(string Path, bool Stop)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.SaveRequest).Str(Path).U8(Stop ? (byte)1 : (byte)0).ToFrame();

    public static SaveRequest Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        string path = r.Str();
        byte flags = r.U8();
        if ((flags & ~1) != 0) throw new ProtocolException($"SaveRequest flags 0x{flags:X2}: only bit 0 (stop) is defined");
        return new SaveRequest(path, (flags & 1) != 0);
    }
}
