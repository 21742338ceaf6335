using System.Buffers.Binary;
using Virt.Shared.Control;

namespace Virt.Shared.Abi;

/// <summary>
/// The crash-state area of a comm region (docs/abi.md, "Crash state"): after the VCPU pages, 64 KiB
/// where a device model keeps a recent snapshot of its devices' state, so that a replacement after a
/// kill -9 starts from the guest's configuration (a UART with its IER, LCR, MCR, divisor) instead of
/// power-on defaults the guest's driver never expects. Two slots: the model writes the one not
/// marked active, then flips Active, so a crash mid-write leaves the previous snapshot whole.
/// Untrusted when read by the monitor: every length is checked, and the blobs go only to the next
/// device model, which checks each device's own format.
/// </summary>
public static unsafe class CrashState
{
    public const int Size = 64 << 10;
    /// <summary>"CRSH" as a little-endian u32, written by the monitor.</summary>
    public const uint Magic = 0x4853_5243;
    public const int HeaderSize = 0x40;
    public const int SlotSize = (Size - HeaderSize) / 2;
    public const uint NoSnapshot = uint.MaxValue;

    // Header: Magic u32 @0, Active u32 @4 (0, 1, or NoSnapshot). Slot: Length u32 @0, then Length bytes of
    // records {u32 n, n bytes of a DeviceState payload (str device, u32 length, bytes)}.

    public static long OffsetFor(int vcpuCount) => (long)vcpuCount * CommPageLayout.VcpuStride;

    /// <summary>Monitor: marks the area present and empty.</summary>
    public static void Initialise(byte* area)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(area + 4, 4), NoSnapshot);
        Volatile.Write(ref *(uint*)area, Magic);
    }

    /// <summary>Device model: stores a snapshot (if it fits) in the inactive slot and makes it the active one.</summary>
    public static bool Write(byte* area, IReadOnlyList<DeviceState> states)
    {
        if (Volatile.Read(ref *(uint*)area) != Magic) return false;
        uint active = Volatile.Read(ref *(uint*)(area + 4));
        uint slot = active == 0 ? 1u : 0u;
        var body = new Span<byte>(area + HeaderSize + slot * SlotSize, SlotSize);
        int at = 4;
        foreach (DeviceState s in states)
        {
            ReadOnlySpan<byte> payload = s.ToFrame().Span[Protocol.HeaderSize..];
            if (at + 4 + payload.Length > SlotSize) return false; // too big for the area: keep the previous snapshot
            BinaryPrimitives.WriteUInt32LittleEndian(body[at..], (uint)payload.Length);
            payload.CopyTo(body[(at + 4)..]);
            at += 4 + payload.Length;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)(at - 4));
        Volatile.Write(ref *(uint*)(area + 4), slot);
        return true;
    }

    /// <summary>Monitor: the last complete snapshot of a device model that is gone (null if none or malformed).</summary>
    public static List<DeviceState>? Read(byte* area)
    {
        if (Volatile.Read(ref *(uint*)area) != Magic) return null;
        uint slot = Volatile.Read(ref *(uint*)(area + 4));
        if (slot > 1) return null;
        // Copied out first: the page is the (dead or hung) model's to scribble on.
        byte[] body = new Span<byte>(area + HeaderSize + slot * SlotSize, SlotSize).ToArray();
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(body);
        if (length > SlotSize - 4) return null;
        var states = new List<DeviceState>();
        int at = 4, end = 4 + (int)length;
        try
        {
            while (at < end)
            {
                if (end - at < 4) return null;
                uint n = BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(at));
                if (n > (uint)(end - at - 4) || states.Count >= 64) return null;
                states.Add(DeviceState.Read(body.AsSpan(at + 4, (int)n)));
                at += 4 + (int)n;
            }
        }
        catch (Exception e) when (e is ProtocolException or ArgumentOutOfRangeException or ArgumentException)
        {
            return null;
        }
        return states;
    }
}
