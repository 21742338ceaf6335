using System.Diagnostics;
using Virt.Shared.Abi;

namespace Virt.Monitor.Transport;

/// <summary>
/// The monitor's side of the OUT batch ring of one comm page: appends batched writes in guest
/// order and keeps a private copy of what is pending, so the stale-read check never trusts the
/// shared page (a device model could scribble on the slots between exits).
/// </summary>
internal sealed unsafe class OutRingWriter(byte* region, int vcpu)
{
    private readonly uint[] _address = new uint[CommPageLayout.OutRingSlots];
    private readonly byte[] _space = new byte[CommPageLayout.OutRingSlots];
    private readonly byte[] _size = new byte[CommPageLayout.OutRingSlots];
    private readonly ulong[] _value = new ulong[CommPageLayout.OutRingSlots];

    /// <summary>One pending batched write, from the monitor's private copy.</summary>
    public readonly record struct Entry(byte Space, uint Address, int Size, ulong Value);

    public int Pending { get; private set; }

    public bool IsFull => Pending == CommPageLayout.OutRingSlots;

    /// <summary>Stopwatch timestamp of the oldest pending write (the latency timer's start).</summary>
    public long OldestTimestamp { get; private set; }

    public void Append(byte space, uint address, int size, ulong value)
    {
        ref CommPage page = ref CommPageAccess.Page(region, vcpu);
        int i = Pending;
        ref OutRingSlot slot = ref CommPageAccess.RingSlot(ref page, i);
        slot.Address = address;
        slot.Space = space;
        slot.Size = (byte)size;
        slot.Value = value;
        _address[i] = address;
        _space[i] = space;
        _size[i] = (byte)size;
        _value[i] = value;
        if (i == 0) OldestTimestamp = Stopwatch.GetTimestamp();
        Pending = i + 1;
        // Only the monitor's thread reads this until it publishes an exit (a full fence there).
        page.OutRing.Pending = (uint)Pending;
    }

    /// <summary>True when a pending port write touches [start, start + count) (a wide write covers Size ports).</summary>
    public bool HasPendingPortWrite(ushort start, ushort count)
    {
        for (int i = 0; i < Pending; i++)
            if (_space[i] == 0 && _address[i] < (uint)start + count && (uint)start < _address[i] + _size[i]) return true;
        return false;
    }

    /// <summary>
    /// After a completed exit: the device model must have performed every pending write. Returns the
    /// number it says it did not (refused by the caller); the ring is empty afterwards either way.
    /// </summary>
    public int Complete()
    {
        ref CommPage page = ref CommPageAccess.Page(region, vcpu);
        uint drained = page.OutRing.Drained;
        int missing = drained == (uint)Pending ? 0 : Pending;
        Pending = 0;
        page.OutRing.Pending = 0;
        page.OutRing.Drained = 0;
        return missing;
    }

    /// <summary>
    /// The device model failed: the pending writes it had not confirmed (the first
    /// <paramref name="confirmed"/> it performed), in guest order, for its replacement; the ring is empty afterwards.
    /// </summary>
    public Entry[] TakePending(int confirmed = 0)
    {
        int skip = Math.Clamp(confirmed, 0, Pending);
        var pending = new Entry[Pending - skip];
        for (int i = 0; i < pending.Length; i++) pending[i] = new Entry(_space[skip + i], _address[skip + i], _size[skip + i], _value[skip + i]);
        Discard();
        return pending;
    }

    /// <summary>The VM is ending or the device model stopped it: what was pending goes nowhere.</summary>
    public void Discard()
    {
        Pending = 0;
        ref CommPage page = ref CommPageAccess.Page(region, vcpu);
        page.OutRing.Pending = 0;
        page.OutRing.Drained = 0;
    }
}
