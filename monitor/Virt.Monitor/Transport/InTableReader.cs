using Virt.Shared.Abi;
using Virt.Shared.Routing;

namespace Virt.Monitor.Transport;

/// <summary>
/// Answers INs from the IN value table the device model keeps in the comm page. The table is read
/// under its seqlock (a torn or in-progress update is a miss, never a spin: a device model that
/// leaves Generation odd only costs itself round trips). Keyed entries are matched against the last
/// value the guest wrote to the key port, which the monitor sees itself (every write passes through it).
/// </summary>
internal sealed unsafe class InTableReader(byte* region, int vcpu)
{
    private readonly uint[] _lastWritten = new uint[0x10000];
    private readonly bool[] _written = new bool[0x10000];

    public enum Outcome { Hit, Miss, Stale, Refused }

    /// <summary>Every guest write to a device model port, batched or not (the keys of keyed entries); a wide write sets Size ports, a byte each.</summary>
    public void NoteWrite(ushort port, int size, uint value)
    {
        for (int i = 0; i < size && port + i <= 0xFFFF; i++)
        {
            _lastWritten[port + i] = (value >> (8 * i)) & 0xFF;
            _written[port + i] = true;
        }
    }

    /// <summary>A write whose value the monitor does not see (string OUT): keys on that port are unknown until the next plain write.</summary>
    public void ForgetWrite(ushort port, int size)
    {
        for (int i = 0; i < size && port + i <= 0xFFFF; i++) _written[port + i] = false;
    }

    /// <summary>
    /// A seqlock reader retries a read that raced with an update (the device model writes the whole
    /// table in about a microsecond); a few tries, then a miss: a device model that keeps the table
    /// odd costs itself round trips, never a spinning VCPU.
    /// </summary>
    public Outcome Lookup(ushort port, int size, OutRingWriter ring, out uint value)
    {
        for (int attempt = 0; ; attempt++)
        {
            Outcome o = TryLookup(port, size, ring, out value, out bool raced);
            if (!raced || attempt == 3) return o;
            Thread.SpinWait(50);
        }
    }

    private Outcome TryLookup(ushort port, int size, OutRingWriter ring, out uint value, out bool raced)
    {
        raced = false;
        value = 0;
        ref CommPage page = ref CommPageAccess.Page(region, vcpu);
        ref InValueTable t = ref page.InTable;
        uint g1 = Volatile.Read(ref t.Generation);
        raced = (g1 & 1) != 0;
        if (raced) return Outcome.Miss;
        uint count = Volatile.Read(ref t.Count);
        if (count > CommPageLayout.InTableSlots) return Outcome.Refused;
        bool found = false;
        ushort depStart = 0, depCount = 0;
        for (int i = 0; i < (int)count; i++)
        {
            ref InTableSlot s = ref CommPageAccess.TableSlot(ref page, i);
            if (s.Port != port || s.Size != size || (s.Flags & (byte)InTableSlotFlags.Valid) == 0) continue;
            if ((s.Flags & (byte)InTableSlotFlags.Keyed) != 0)
            {
                ushort key = s.KeyPort;
                if (!_written[key] || (_lastWritten[key] & s.KeyMask) != s.KeyValue) continue;
            }
            value = s.Value;
            depStart = s.DependsOn;
            depCount = s.DependsCount;
            found = true;
            break;
        }
        // Slot reads must not move past the second Generation read.
        Interlocked.MemoryBarrier();
        raced = Volatile.Read(ref t.Generation) != g1;
        if (raced || !found) return Outcome.Miss;
        value &= IoSize.AllOnes32(size);
        return ring.HasPendingPortWrite(depStart, depCount) ? Outcome.Stale : Outcome.Hit;
    }
}
