using System.Text;

namespace Virt.Shared.Control;

// Live statistics (protocol 1.4, docs/control-protocol.md "Live statistics"): a management client
// sends StatsRequest (an empty frame, EmptyMessage.Frame(MessageType.StatsRequest)); the monitor
// answers with one StatsSnapshot. Counters are totals since the guest started; a client such as
// `virt top` makes rates from two snapshots and their ElapsedNanos.

/// <summary>A named total: ("round_trips", 1234), ("io-out", 99).</summary>
public sealed record NamedCount(string Name, ulong Value);

/// <summary>One device model: the exits routed to its claims, reads and writes (ModelId 0 is the monitor's own devices).</summary>
public sealed record ModelExits(uint ModelId, string Name, AttachmentState State, ulong Reads, ulong Writes);

/// <summary>One device (by its claims' name) and who hosts it: the exits to its ports and MMIO ranges.</summary>
public sealed record DeviceExits(string Device, uint ModelId, ulong Reads, ulong Writes);

/// <summary>The address space of an <see cref="AddressExits"/>.</summary>
public enum StatsSpace : byte
{
    Port = 0,
    /// <summary>An MMIO page (4 KiB): Address is its first byte.</summary>
    MmioPage = 1,
}

/// <summary>One port or MMIO page: its device ("" when unclaimed), its host, reads and writes.</summary>
public sealed record AddressExits(StatsSpace Space, ulong Address, string Device, uint ModelId, ulong Reads, ulong Writes);

/// <summary>
/// The monitor's counters at one moment (message 20, the answer to StatsRequest, 19):
/// u64 elapsed nanoseconds since the guest started, u64 instructions retired, u8 VCPU state (as in VmStatus),
/// then seven lists, each u16 n and n entries:
/// totals {str name, u64}; exits by reason {str, u64}; flushes by reason {str, u64};
/// device models {u32 id, str name, u8 state, u64 reads, u64 writes};
/// devices {str name, u32 model id, u64 reads, u64 writes};
/// addresses, busiest first {u8 space, u64 address, str device, u32 model id, u64 reads, u64 writes};
/// device counters {str device, str counter, u64 value}.
/// Names are at most 64 bytes; each list has a bound (<see cref="MaxEntries"/>, <see cref="MaxAddresses"/>,
/// <see cref="MaxCounters"/>) so a snapshot always fits one frame. A reader ignores bytes after the last list:
/// a later minor version may append fields.
/// </summary>
public sealed record StatsSnapshot(ulong ElapsedNanos, ulong Instructions, VcpuRunState State,
    IReadOnlyList<NamedCount> Totals, IReadOnlyList<NamedCount> ExitsByReason, IReadOnlyList<NamedCount> FlushesByReason,
    IReadOnlyList<ModelExits> Models, IReadOnlyList<DeviceExits> Devices, IReadOnlyList<AddressExits> Addresses,
    IReadOnlyList<CounterValue> Counters)
{
    /// <summary>Bound of the totals, reasons, models and devices lists.</summary>
    public const int MaxEntries = 64;
    public const int MaxAddresses = 128;
    public const int MaxCounters = 160;
    public const int MaxNameBytes = 64;

    public ReadOnlyMemory<byte> ToFrame()
    {
        var w = new PayloadWriter(MessageType.StatsSnapshot).U64(ElapsedNanos).U64(Instructions).U8((byte)State);
        Named(w, Totals);
        Named(w, ExitsByReason);
        Named(w, FlushesByReason);
        w.U16((ushort)Math.Min(Models.Count, MaxEntries));
        foreach (ModelExits m in Models.Take(MaxEntries)) w.U32(m.ModelId).Str(Clip(m.Name)).U8((byte)m.State).U64(m.Reads).U64(m.Writes);
        w.U16((ushort)Math.Min(Devices.Count, MaxEntries));
        foreach (DeviceExits d in Devices.Take(MaxEntries)) w.Str(Clip(d.Device)).U32(d.ModelId).U64(d.Reads).U64(d.Writes);
        w.U16((ushort)Math.Min(Addresses.Count, MaxAddresses));
        foreach (AddressExits a in Addresses.Take(MaxAddresses)) w.U8((byte)a.Space).U64(a.Address).Str(Clip(a.Device)).U32(a.ModelId).U64(a.Reads).U64(a.Writes);
        w.U16((ushort)Math.Min(Counters.Count, MaxCounters));
        foreach (CounterValue c in Counters.Take(MaxCounters)) w.Str(Clip(c.Device)).Str(Clip(c.Counter)).U64(c.Value);
        return w.ToFrame();
    }

    private static void Named(PayloadWriter w, IReadOnlyList<NamedCount> list)
    {
        w.U16((ushort)Math.Min(list.Count, MaxEntries));
        foreach (NamedCount n in list.Take(MaxEntries)) w.Str(Clip(n.Name)).U64(n.Value);
    }

    /// <summary>A name cut to <see cref="MaxNameBytes"/> bytes of UTF-8 (at a character boundary).</summary>
    private static string Clip(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) <= MaxNameBytes) return name;
        int n = name.Length;
        while (n > 0 && Encoding.UTF8.GetByteCount(name.AsSpan(0, n)) > MaxNameBytes) n--;
        return name[..n];
    }

    public static StatsSnapshot Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        ulong elapsed = r.U64(), instructions = r.U64();
        var state = (VcpuRunState)r.U8();
        var totals = ReadNamed(ref r);
        var reasons = ReadNamed(ref r);
        var flushes = ReadNamed(ref r);
        int n = Count(ref r, MaxEntries, "device models");
        var models = new List<ModelExits>(n);
        for (int i = 0; i < n; i++) models.Add(new ModelExits(r.U32(), r.Str(), (AttachmentState)r.U8(), r.U64(), r.U64()));
        n = Count(ref r, MaxEntries, "devices");
        var devices = new List<DeviceExits>(n);
        for (int i = 0; i < n; i++) devices.Add(new DeviceExits(r.Str(), r.U32(), r.U64(), r.U64()));
        n = Count(ref r, MaxAddresses, "addresses");
        var addresses = new List<AddressExits>(n);
        for (int i = 0; i < n; i++)
        {
            byte space = r.U8();
            if (space > (byte)StatsSpace.MmioPage) throw new ProtocolException($"StatsSnapshot: address space {space}");
            addresses.Add(new AddressExits((StatsSpace)space, r.U64(), r.Str(), r.U32(), r.U64(), r.U64()));
        }
        n = Count(ref r, MaxCounters, "device counters");
        var counters = new List<CounterValue>(n);
        for (int i = 0; i < n; i++) counters.Add(new CounterValue(r.Str(), r.Str(), r.U64()));
        return new StatsSnapshot(elapsed, instructions, state, totals, reasons, flushes, models, devices, addresses, counters);
    }

    private static List<NamedCount> ReadNamed(ref PayloadReader r)
    {
        int n = Count(ref r, MaxEntries, "named counts");
        var list = new List<NamedCount>(n);
        for (int i = 0; i < n; i++) list.Add(new NamedCount(r.Str(), r.U64()));
        return list;
    }

    private static int Count(ref PayloadReader r, int max, string what)
    {
        int n = r.U16();
        return n <= max ? n : throw new ProtocolException($"StatsSnapshot with {n} {what}, at most {max}");
    }

    /// <summary>A total by name, 0 when the snapshot does not carry it.</summary>
    public ulong Total(string name) => Totals.FirstOrDefault(t => t.Name == name)?.Value ?? 0;
}
