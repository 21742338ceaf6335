using Virt.Shared.Abi;

namespace Virt.Monitor.Stats;

/// <summary>
/// What the exit path counts: exits by reason and target, accesses per port, round trips and
/// their latency, values refused from the comm page. Written by the VCPU thread only; read by it
/// at the end, and while it runs by the timeline sampler and `virt top` (<see cref="LiveStats"/>):
/// every counter is a 64-bit field or array slot (a read sees an old or a new value, never a torn
/// one) and the only growing collection, the MMIO pages, is added to under a lock its readers take.
/// </summary>
public sealed class ExitStatistics
{
    private readonly long[] _portReads = new long[0x10000];
    private readonly long[] _portWrites = new long[0x10000];
    // A page's counter object is made once (under the lock) and then incremented in place.
    private readonly Dictionary<ulong, MmioPageCounter> _mmioPages = new();
    private readonly long[] _byKind = new long[ExitKinds.Count];
    private readonly long[] _byTarget = new long[3];
    private readonly long[] _flushes = new long[(int)FlushReason.Detach + 2];

    private sealed class MmioPageCounter
    {
        public long Reads;
        public long Writes;
    }

    /// <summary>Exits by reason name, the reasons that happened (a copy).</summary>
    public Dictionary<string, long> ByReason =>
        ExitKinds.All.Where(k => _byKind[(int)k] != 0).ToDictionary(ExitKinds.Name, k => Volatile.Read(ref _byKind[(int)k]));

    /// <summary>Exits of one reason so far.</summary>
    public long Exits(ExitKind kind) => Volatile.Read(ref _byKind[(int)kind]);

    /// <summary>Exits by where they were handled, the targets that had any (a copy).</summary>
    public Dictionary<ExitTarget, long> ByTarget =>
        Enum.GetValues<ExitTarget>().Where(t => _byTarget[(int)t] != 0).ToDictionary(t => t, t => Volatile.Read(ref _byTarget[(int)t]));
    private readonly long[] _refused = new long[RefusalNames.Count];
    public LatencyRecorder RoundTripLatency { get; } = new();
    /// <summary>
    /// The round trip split where the device model stamped it (ExitRecord.SeenAt and CompletedAt):
    /// from our ring to its wait ending, its service (the batch drain and the device), from its ring
    /// to our wait ending. Where a tail comes from (docs/wakeup.md).
    /// </summary>
    public LatencyRecorder ToDeviceLatency { get; } = new();
    public LatencyRecorder ServiceLatency { get; } = new();
    public LatencyRecorder BackLatency { get; } = new();
    /// <summary>Bytes the VCPU thread allocated inside the exit path to the device model (DeviceModelPort.Exchange): 0 once warm.</summary>
    public long ExitPathAllocatedBytes { get; set; }
    /// <summary>Round trips during which the monitor's GC ran (its pause is in their latency).</summary>
    public long RoundTripsSpanningGc { get; set; }
    /// <summary>Every publish of an exit to the device model and its completion (one switch each way), state rounds included.</summary>
    public long RoundTrips { get; set; }
    /// <summary>Round trips made only to fetch state the page did not hold (NeedState rounds).</summary>
    public long StateFetches { get; set; }
    /// <summary>Exits whose device model needed state and found it all in the page (no NeedState round).</summary>
    public long StateServedFromPage { get; set; }
    /// <summary>State commits loaded into the VCPU.</summary>
    public long StateCommits { get; set; }
    /// <summary>Round trips made only to commit state (`--state naive`: setstate as an ioctl).</summary>
    public long CommitRoundTrips { get; set; }
    /// <summary>Writes that went into the OUT batch ring instead of a round trip.</summary>
    public long BatchedWrites { get; set; }
    public long CachedReadHits { get; set; }
    /// <summary>Cached-policy INs the table did not answer (no entry, key mismatch, update in progress).</summary>
    public long CachedReadMisses { get; set; }
    /// <summary>Cached-policy INs whose entry depended on a pending write: the ring went first.</summary>
    public long CachedReadStale { get; set; }
    /// <summary>Ring flushes (exits that drained at least one batched write) by reason name, the reasons that happened (a copy).</summary>
    public Dictionary<string, long> FlushesByReason
    {
        get
        {
            var d = new Dictionary<string, long>();
            for (int i = 0; i < _flushes.Length; i++)
                if (Volatile.Read(ref _flushes[i]) is var n && n != 0) d[FlushName((FlushReason)i)] = n;
            return d;
        }
    }

    /// <summary>The name of a flush reason in the report, the JSON and `virt top`.</summary>
    public static string FlushName(FlushReason r) => r switch
    {
        FlushReason.SyncAccess => "sync-access",
        FlushReason.StaleRead => "stale-read",
        FlushReason.Full => "full",
        FlushReason.Halt => "halt",
        FlushReason.Timer => "timer",
        FlushReason.Shutdown => "shutdown",
        FlushReason.Detach => "detach",
        _ => "other",
    };
    public long IrqEdges { get; set; }
    public long Halts { get; set; }

    private long _totalExits;

    public long TotalExits => Volatile.Read(ref _totalExits);

    private void Count(ExitKind kind, ExitTarget target)
    {
        _totalExits++;
        _byKind[(int)kind]++;
        _byTarget[(int)target]++;
    }

    public void Port(ushort port, bool read, ExitTarget target, bool isString = false)
    {
        Count(read ? (isString ? ExitKind.IoInString : ExitKind.IoIn) : (isString ? ExitKind.IoOutString : ExitKind.IoOut), target);
        if (read) _portReads[port]++;
        else _portWrites[port]++;
    }

    public void Mmio(ulong address, bool read, ExitTarget target)
    {
        Count(read ? ExitKind.MmioRead : ExitKind.MmioWrite, target);
        ulong page = address & ~0xFFFUL;
        // Only this (the VCPU) thread adds, so its own lookup needs no lock; the add does, as readers enumerate.
        if (!_mmioPages.TryGetValue(page, out MmioPageCounter? c))
        {
            c = new MmioPageCounter();
            lock (_mmioPages) _mmioPages.Add(page, c);
        }
        if (read) c.Reads++;
        else c.Writes++;
    }

    public void Halt()
    {
        Halts++;
        _totalExits++;
        _byKind[(int)ExitKind.Halt]++;
    }

    public void Flushed(FlushReason reason) => _flushes[Math.Min((int)reason, _flushes.Length - 1)]++;

    /// <summary>A value from the comm page failed its check (docs/abi.md). Called on every refusal: no allocation.</summary>
    public void Refuse(Refusal what)
    {
        _refused[(int)what]++;
        RefusedTotal++;
    }

    /// <summary>Every refusal so far (MonitorCounters.Refused, `refusedTotal`).</summary>
    public long RefusedTotal { get; private set; }

    public long RefusedCount(Refusal what) => _refused[(int)what];

    /// <summary>The refusals that happened, in the order of docs/abi.md's table.</summary>
    public IEnumerable<(Refusal What, long Count)> Refused()
    {
        for (int i = 0; i < _refused.Length; i++)
            if (_refused[i] != 0) yield return ((Refusal)i, _refused[i]);
    }

    /// <summary>Ports with any access: (port, reads, writes).</summary>
    public IEnumerable<(ushort Port, long Reads, long Writes)> Ports()
    {
        for (int p = 0; p < 0x10000; p++)
        {
            long r = Volatile.Read(ref _portReads[p]), w = Volatile.Read(ref _portWrites[p]);
            if (r != 0 || w != 0) yield return ((ushort)p, r, w);
        }
    }

    /// <summary>MMIO pages with any access, by address (a copy, safe to take while the VCPU runs).</summary>
    public IReadOnlyList<(ulong Page, long Reads, long Writes)> MmioPages()
    {
        lock (_mmioPages)
            return _mmioPages.OrderBy(kv => kv.Key).Select(kv => (kv.Key, Volatile.Read(ref kv.Value.Reads), Volatile.Read(ref kv.Value.Writes))).ToList();
    }
}
