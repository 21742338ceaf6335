using System.Buffers.Binary;
using System.Text;
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
        var w = new SnapshotWriter(area);
        foreach (DeviceState s in states)
            if (!w.Add(s.Device, s.Blob)) return false;
        return w.Publish();
    }

    /// <summary>
    /// Device model: a snapshot written record by record into the inactive slot, allocating nothing
    /// (the crash snapshot after a synchronous write is on the exit path, docs/wakeup.md). The
    /// records are DeviceState payloads (str device, u32 length, blob), as <see cref="Read"/> expects.
    /// </summary>
    public ref struct SnapshotWriter
    {
        private readonly byte* _area;
        private readonly uint _slot;
        private readonly Span<byte> _body;
        private int _at;
        private bool _failed;

        /// <summary>Starts a snapshot; without the area's Magic (no crash-state area), every step fails.</summary>
        public SnapshotWriter(byte* area)
        {
            _area = area;
            _failed = Volatile.Read(ref *(uint*)area) != Magic;
            _slot = Volatile.Read(ref *(uint*)(area + 4)) == 0 ? 1u : 0u;
            _body = _failed ? default : new Span<byte>(area + HeaderSize + _slot * SlotSize, SlotSize);
            _at = 4;
        }

        /// <summary>Adds one device's blob. False when the snapshot no longer fits (the previous one is kept).</summary>
        public bool Add(string device, ReadOnlySpan<byte> blob)
        {
            if (_failed) return false;
            int name = Encoding.UTF8.GetByteCount(device);
            int payload = 2 + name + 4 + blob.Length;
            if (name > ushort.MaxValue || _at + 4 + payload > SlotSize)
            {
                _failed = true; // too big for the area: keep the previous snapshot
                return false;
            }
            Span<byte> record = _body.Slice(_at, 4 + payload);
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload);
            BinaryPrimitives.WriteUInt16LittleEndian(record[4..], (ushort)name);
            Encoding.UTF8.GetBytes(device, record[6..]);
            BinaryPrimitives.WriteUInt32LittleEndian(record[(6 + name)..], (uint)blob.Length);
            blob.CopyTo(record[(10 + name)..]);
            _at += 4 + payload;
            return true;
        }

        /// <summary>Makes the snapshot the active one. False (and the previous one stays) if a record did not fit.</summary>
        public readonly bool Publish()
        {
            if (_failed) return false;
            BinaryPrimitives.WriteUInt32LittleEndian(_body, (uint)(_at - 4));
            Volatile.Write(ref *(uint*)(_area + 4), _slot);
            return true;
        }
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
