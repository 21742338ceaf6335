using System.Diagnostics;
using Virt.Monitor.Attachment;
using Virt.Monitor.Routing;
using Virt.Shared.Abi;
using Virt.Shared.Control;

namespace Virt.Monitor.Stats;

/// <summary>
/// The answer to a StatsRequest (`virt top`): the run's counters as they are now, read while the
/// VCPU runs (<see cref="ExitStatistics"/> says why that is safe), with each port and MMIO page
/// credited to the device and device model that claim it now. Costs the guest nothing: the VCPU
/// is not stopped or asked anything; only the device models' counters cost them a control message.
/// </summary>
public sealed class LiveStats(ExitStatistics stats, Stopwatch wall, Func<long> instructions, AttachmentManager manager,
    ExitRouter router, DeviceCounterSource deviceCounters)
{
    /// <summary>How long a snapshot waits for the device models' counters (a refresh of `virt top` must not hang on a slow model).</summary>
    private static readonly TimeSpan CountersTimeout = TimeSpan.FromMilliseconds(500);

    // The devices' counters of the last snapshot, by device: a model that does not answer in time (a
    // loaded machine) shows its last figures rather than vanishing from the view for one refresh.
    private readonly Dictionary<string, DeviceCounterRow> _lastCounters = new(StringComparer.Ordinal);

    public async Task<StatsSnapshot> CaptureAsync()
    {
        // The counters first, all within microseconds of each other, so rates made from them agree.
        ulong elapsed = (ulong)(wall.Elapsed.Ticks * 100);
        ulong retired = (ulong)instructions();
        var reasons = ExitKinds.All.Select(k => new NamedCount(ExitKinds.Name(k), (ulong)stats.Exits(k))).ToList();
        var flushes = stats.FlushesByReason.Select(kv => new NamedCount(kv.Key, (ulong)kv.Value)).ToList();
        var totals = new List<NamedCount>
        {
            new("exits", (ulong)stats.TotalExits),
            new("round_trips", (ulong)stats.RoundTrips),
            new("batched_writes", (ulong)stats.BatchedWrites),
            new("cached_read_hits", (ulong)stats.CachedReadHits),
            new("cached_read_misses", (ulong)stats.CachedReadMisses),
            new("cached_read_stale", (ulong)stats.CachedReadStale),
            new("state_fetches", (ulong)stats.StateFetches),
            new("state_served_from_page", (ulong)stats.StateServedFromPage),
            new("state_commits", (ulong)stats.StateCommits),
            new("commit_round_trips", (ulong)stats.CommitRoundTrips),
            new("irq_edges", (ulong)stats.IrqEdges),
            new("halts", (ulong)stats.Halts),
            new("refused", (ulong)stats.RefusedTotal),
            new("unclaimed_accesses", (ulong)router.UnclaimedAccesses),
        };
        var addresses = new List<AddressExits>();
        foreach (var (port, reads, writes) in stats.Ports())
            addresses.Add(Address(StatsSpace.Port, port, router.ClaimAt(ExitReason.PortIo, port), reads, writes));
        foreach (var (page, reads, writes) in stats.MmioPages())
            addresses.Add(Address(StatsSpace.MmioPage, page, router.ClaimAt(ExitReason.Mmio, page), reads, writes));

        var status = manager.Status(retired);
        var models = new List<ModelExits> { Model(0, "monitor", AttachmentState.Active, addresses) };
        models.AddRange(status.Attachments.Select(a => Model(a.Id, a.Name, a.State, addresses)));
        var devices = addresses.Where(a => a.Device.Length > 0)
            .GroupBy(a => (a.Device, a.ModelId))
            .Select(g => new DeviceExits(g.Key.Device, g.Key.ModelId, Sum(g, a => a.Reads), Sum(g, a => a.Writes)))
            .OrderByDescending(d => d.Reads + d.Writes).ToList();
        var busiest = addresses.OrderByDescending(a => a.Reads + a.Writes).Take(StatsSnapshot.MaxAddresses).ToList();

        DeviceCounterTable table = await deviceCounters.CollectAsync(CountersTimeout);
        List<DeviceCounterRow> rows;
        lock (_lastCounters)
        {
            var fresh = table.Rows.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
            rows = [.. table.Rows, .. _lastCounters.Values.Where(r => !fresh.Contains(r.Key))];
            foreach (DeviceCounterRow r in table.Rows) _lastCounters[r.Key] = r;
        }
        var counters = rows.SelectMany(r => r.Counters.Select(c => new CounterValue(r.Key, c.Name, (ulong)Math.Max(0, c.Value))))
            .Take(StatsSnapshot.MaxCounters).ToList();
        return new StatsSnapshot(elapsed, retired, status.State, totals, reasons, flushes, models, devices, busiest, counters);
    }

    private static AddressExits Address(StatsSpace space, ulong address, BusClaim? claim, long reads, long writes) =>
        new(space, address, claim?.Device ?? "", claim?.DeviceModel?.Id ?? 0, (ulong)reads, (ulong)writes);

    private static ModelExits Model(uint id, string name, AttachmentState state, List<AddressExits> addresses)
    {
        var mine = addresses.Where(a => a.ModelId == id && (id != 0 || a.Device.Length > 0));
        return new ModelExits(id, name, state, Sum(mine, a => a.Reads), Sum(mine, a => a.Writes));
    }

    private static ulong Sum<T>(IEnumerable<T> items, Func<T, ulong> value)
    {
        ulong s = 0;
        foreach (T item in items) s += value(item);
        return s;
    }
}
