namespace Virt.Shared.Control;

// Management and state-transfer messages (protocol 1.1, docs/control-protocol.md).

/// <summary>First frame of a management client (virt list / attach / detach): authorized by the same secret as a device model.</summary>
public sealed record Manage(uint Version, byte[] Secret, string Client)
{
    public ReadOnlyMemory<byte> ToFrame()
    {
        if (Secret.Length != Protocol.SecretSize) throw new ArgumentException("secret must be 32 bytes");
        return new PayloadWriter(MessageType.Manage).U32(Version).Bytes(Secret).Str(Client).ToFrame();
    }

    public static Manage Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new Manage(r.U32(), r.Bytes(Protocol.SecretSize), r.Str());
    }
}

/// <summary>The run state of the guest's VCPU.</summary>
public enum VcpuRunState : byte
{
    Starting = 0,
    Running = 1,
    /// <summary>Held at an instruction boundary for an attach, detach or swap.</summary>
    Paused = 2,
    /// <summary>Held because a device model died or hung; a new attach resumes it.</summary>
    Stalled = 3,
    Ended = 4,
}

public enum AttachmentState : byte
{
    /// <summary>Said Hello, making claims; not routed to yet.</summary>
    Attaching = 0,
    Active = 1,
    /// <summary>Died or hung: its exits are held until a new device model attaches.</summary>
    Failed = 2,
    Detached = 3,
}

/// <summary>One device model in a <see cref="VmStatus"/>. Detail: why it failed and the exit it held, or its claims.</summary>
public sealed record AttachmentInfo(uint Id, string Name, int Pid, AttachmentState State, string Detail);

public sealed record VmStatus(int MonitorPid, VcpuRunState State, string StateDetail, ulong Instructions, ulong UnclaimedAccesses,
    IReadOnlyList<AttachmentInfo> Attachments)
{
    public ReadOnlyMemory<byte> ToFrame()
    {
        var w = new PayloadWriter(MessageType.VmStatus).I32(MonitorPid).U8((byte)State).Str(StateDetail).U64(Instructions)
            .U64(UnclaimedAccesses).U16((ushort)Attachments.Count);
        foreach (AttachmentInfo a in Attachments) w.U32(a.Id).Str(a.Name).I32(a.Pid).U8((byte)a.State).Str(a.Detail);
        return w.ToFrame();
    }

    public static VmStatus Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        int pid = r.I32();
        var state = (VcpuRunState)r.U8();
        string detail = r.Str();
        ulong instructions = r.U64(), unclaimed = r.U64();
        int n = r.U16();
        var list = new List<AttachmentInfo>(n);
        for (int i = 0; i < n; i++) list.Add(new AttachmentInfo(r.U32(), r.Str(), r.I32(), (AttachmentState)r.U8(), r.Str()));
        return new VmStatus(pid, state, detail, instructions, unclaimed, list);
    }
}

/// <summary>
/// Start a device model and attach it. Command: a bundled name or a path, then its arguments,
/// separated by spaces. Replace: the id or name of an attached device model to swap out (its saved
/// device state goes to the new one), or empty.
/// </summary>
public sealed record AttachRequest(string Command, string Replace)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.AttachRequest).Str(Command).Str(Replace).ToFrame();

    public static AttachRequest Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new AttachRequest(r.Str(), r.Str());
    }
}

/// <summary>Detach the device model with this id or name (its claims become unclaimed).</summary>
public sealed record DetachRequest(string Target)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.DetachRequest).Str(Target).ToFrame();

    public static DetachRequest Read(ReadOnlySpan<byte> p) => new(new PayloadReader(p).Str());
}

public sealed record RequestResult(bool Ok, uint AttachmentId, string Message)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.RequestResult).U8(Ok ? (byte)1 : (byte)0).U32(AttachmentId).Str(Message).ToFrame();

    public static RequestResult Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new RequestResult(r.U8() != 0, r.U32(), r.Str());
    }
}

/// <summary>One device's state blob: the device name (as in its claims) and the device's own versioned format.</summary>
public sealed record DeviceState(string Device, byte[] Blob)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.DeviceState).Str(Device).Blob(Blob).ToFrame();

    public static DeviceState Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        return new DeviceState(r.Str(), r.Blob());
    }
}

/// <summary>Empty-payload messages of protocol 1.1.</summary>
public static class EmptyMessage
{
    public static ReadOnlyMemory<byte> Frame(MessageType type) => new PayloadWriter(type).ToFrame();
}

/// <summary>The device model's answer to SaveState after its DeviceState frames: how many it sent.</summary>
public sealed record StateSaved(uint Count)
{
    public ReadOnlyMemory<byte> ToFrame() => new PayloadWriter(MessageType.StateSaved).U32(Count).ToFrame();

    public static StateSaved Read(ReadOnlySpan<byte> p) => new(new PayloadReader(p).U32());
}
