using Virt.Shared.Wakeup;

namespace Virt.Shared.Control;

// The control messages, one record each, with their payload encoding (docs/control-protocol.md).

public sealed record Hello(uint Version, Features Features, byte[] Secret, string Name, int Pid)
{
    public ReadOnlyMemory<byte> ToFrame()
    {
        if (Secret.Length != Protocol.SecretSize) throw new ArgumentException("secret must be 32 bytes");
        return new PayloadWriter(MessageType.Hello).U32(Version).U64((ulong)Features).Bytes(Secret).Str(Name).I32(Pid).ToFrame();
    }

    public static Hello Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new Hello(r.U32(), (Features)r.U64(), r.Bytes(Protocol.SecretSize), r.Str(), r.I32());
    }
}

/// <summary>
/// File names are relative to the VM directory (the directory of the control socket). CommFile is
/// this attachment's own comm region. StateBlobs (protocol 1.1) DeviceState frames follow the Welcome:
/// state saved from the device model this one replaces.
/// </summary>
public sealed record Welcome(uint Version, Features Features, int VcpuCount, ulong RamSize, string RamFile,
    string CommFile, int PagesPerVcpu, int MonitorPid, WakeMode WakeMode, int SpinMicros, uint StateBlobs = 0, bool CrashSnapshot = false)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.Welcome).U32(Version).U64((ulong)Features)
        .U32((uint)VcpuCount).U64(RamSize).Str(RamFile).Str(CommFile).U32((uint)PagesPerVcpu).I32(MonitorPid)
        .U8((byte)WakeMode).U32((uint)SpinMicros).U32(StateBlobs).U8(CrashSnapshot ? (byte)1 : (byte)0).ToFrame();

    public static Welcome Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        var w = new Welcome(r.U32(), (Features)r.U64(), (int)r.U32(), r.U64(), r.Str(), r.Str(), (int)r.U32(), r.I32(), (WakeMode)r.U8(), (int)r.U32());
        // A 1.0 monitor's Welcome ends here.
        if (r.Remaining < 4) return w;
        w = w with { StateBlobs = r.U32() };
        // 1.2: whether those blobs are a crash snapshot of a model that died (not state saved at a pause).
        return r.Remaining >= 1 ? w with { CrashSnapshot = r.U8() != 0 } : w;
    }
}

public sealed record Refused(RefusalCode Code, string Reason)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.Refused).U32((uint)Code).Str(Reason).ToFrame();

    public static Refused Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new Refused((RefusalCode)r.U32(), r.Str());
    }
}

/// <summary>
/// Space: 0 = ports, 1 = MMIO. Flags: <see cref="ClaimFlags"/> (the range's write and read policy, or a
/// side-effect-free region). Value (1.5): what a <see cref="ClaimFlags.Constant"/> range reads as; on
/// the wire only with that flag, so every earlier Claim is read as it was.
/// </summary>
public sealed record Claim(uint Id, byte Space, ulong Start, ulong Length, uint Flags, string Device, uint Value = 0)
{
    public ReadOnlyMemory<byte> ToFrame()
    {
        PayloadWriter w = new PayloadWriter(MessageType.Claim).U32(Id).U8(Space).U64(Start).U64(Length).U32(Flags).Str(Device);
        return ((ClaimFlags)Flags & ClaimFlags.Constant) != 0 ? w.U32(Value).ToFrame() : w.ToFrame();
    }

    public static Claim Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        var c = new Claim(r.U32(), r.U8(), r.U64(), r.U64(), r.U32(), r.Str());
        // A Constant claim without its value is short: a protocol error, as any short payload.
        return ((ClaimFlags)c.Flags & ClaimFlags.Constant) != 0 ? c with { Value = r.U32() } : c;
    }
}

public sealed record ClaimResult(uint Id, bool Accepted, string Reason)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.ClaimResult).U32(Id).U8(Accepted ? (byte)1 : (byte)0).Str(Reason).ToFrame();

    public static ClaimResult Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new ClaimResult(r.U32(), r.U8() != 0, r.Str());
    }
}

/// <summary>Sent by the device model when its claims are made (empty payload).</summary>
public sealed record Ready
{
    public static ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.Ready).ToFrame();
}

/// <summary>The VM ended: Status is the exit status of virt run, Reason a human-readable cause.</summary>
public sealed record Shutdown(int Status, string Reason)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.Shutdown).I32(Status).Str(Reason).ToFrame();

    public static Shutdown Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new Shutdown(r.I32(), r.Str());
    }
}
