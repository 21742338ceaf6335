using Virt.Shared.Abi;

namespace Virt.Monitor.Stats;

/// <summary>
/// What the exit path counts: exits by reason and target, accesses per port, round trips and
/// their latency, values refused from the comm page. Written by the VCPU thread only.
/// </summary>
public sealed class ExitStatistics
{
    private readonly long[] _portReads = new long[0x10000];
    private readonly long[] _portWrites = new long[0x10000];
    private readonly Dictionary<ulong, (long Reads, long Writes)> _mmioPages = new();

    public Dictionary<string, long> ByReason { get; } = new();
    public Dictionary<ExitTarget, long> ByTarget { get; } = new();
    private readonly long[] _refused = new long[RefusalNames.Count];
    public LatencyRecorder RoundTripLatency { get; } = new();
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
    /// <summary>Ring flushes (exits that drained at least one batched write) by reason.</summary>
    public Dictionary<string, long> FlushesByReason { get; } = new();
    public long IrqEdges { get; set; }
    public long Halts { get; set; }

    public long TotalExits { get; private set; }

    private void Count(string reason, ExitTarget target)
    {
        TotalExits++;
        ByReason[reason] = ByReason.GetValueOrDefault(reason) + 1;
        ByTarget[target] = ByTarget.GetValueOrDefault(target) + 1;
    }

    public void Port(ushort port, bool read, ExitTarget target, bool isString = false)
    {
        Count(read ? (isString ? "io-in-string" : "io-in") : (isString ? "io-out-string" : "io-out"), target);
        if (read) _portReads[port]++;
        else _portWrites[port]++;
    }

    public void Mmio(ulong address, bool read, ExitTarget target)
    {
        Count(read ? "mmio-read" : "mmio-write", target);
        ulong page = address & ~0xFFFUL;
        var (r, w) = _mmioPages.GetValueOrDefault(page);
        _mmioPages[page] = read ? (r + 1, w) : (r, w + 1);
    }

    public void Halt()
    {
        Halts++;
        TotalExits++;
        ByReason["hlt"] = ByReason.GetValueOrDefault("hlt") + 1;
    }

    public void Flushed(string reason) => FlushesByReason[reason] = FlushesByReason.GetValueOrDefault(reason) + 1;

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
            if (_portReads[p] != 0 || _portWrites[p] != 0) yield return ((ushort)p, _portReads[p], _portWrites[p]);
    }

    public IEnumerable<(ulong Page, long Reads, long Writes)> MmioPages() =>
        _mmioPages.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value.Reads, kv.Value.Writes));
}
