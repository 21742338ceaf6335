using Virt.Shared.Control;

namespace Virt.Monitor.Top;

/// <summary>One row of a section: a name, its rate over the last interval (per second), its total since the guest started.</summary>
public sealed record TopRow(string Name, double PerSecond, ulong Total, string Detail = "");

/// <summary>A titled group of rows (exits by reason, devices, busiest ports...).</summary>
public sealed record TopSection(string Key, string Title, IReadOnlyList<TopRow> Rows);

/// <summary>
/// What `virt top` shows, made from two snapshots of the monitor's counters: rates are the difference
/// over the time between them; the first view of a session compares with the guest's start, so it
/// shows the averages of the run so far. Rendered by <see cref="TopScreen"/> (terminal),
/// <see cref="TopText"/> (--once) and <see cref="TopJson"/> (--json).
/// </summary>
public sealed record TopView(string Vm, VcpuRunState State, double ElapsedSeconds, double IntervalSeconds,
    TopRow Instructions, IReadOnlyList<TopRow> Summary, IReadOnlyList<TopSection> Sections)
{
    /// <summary>The counters of the summary line, by their name in the snapshot and on screen.</summary>
    private static readonly (string Key, string Label)[] SummaryCounters =
    [
        ("exits", "exits"),
        ("round_trips", "round trips"),
        ("batched_writes", "batched writes"),
        ("cached_read_hits", "cached IN hits"),
        ("cached_read_misses", "cached IN misses"),
        ("irq_edges", "IRQ edges"),
        ("halts", "halts"),
        ("unclaimed_accesses", "unclaimed"),
    ];

    public static TopView From(string vm, StatsSnapshot now, StatsSnapshot? before, TopSort sort)
    {
        double dt = (now.ElapsedNanos - (before?.ElapsedNanos ?? 0)) / 1e9;
        double Rate(ulong n, ulong b) => dt > 0 && n >= b ? (n - b) / dt : 0;

        TopRow Row(string name, ulong total, Func<StatsSnapshot, ulong> previous, string detail = "") =>
            new(name, Rate(total, before is null ? 0 : previous(before)), total, detail);

        var summary = SummaryCounters.Select(c => Row(c.Label, now.Total(c.Key), b => b.Total(c.Key))).ToList();
        var instructions = Row("instructions", now.Instructions, b => b.Instructions);

        static ulong Named(IReadOnlyList<NamedCount> list, string name) => list.FirstOrDefault(n => n.Name == name)?.Value ?? 0;
        var sections = new List<TopSection>
        {
            new("exitsByReason", "exits by reason", now.ExitsByReason.Select(r => Row(r.Name, r.Value, b => Named(b.ExitsByReason, r.Name))).ToList()),
            new("flushesByReason", "ring flushes by reason", now.FlushesByReason.Select(r => Row(r.Name, r.Value, b => Named(b.FlushesByReason, r.Name))).ToList()),
            new("deviceModels", "exits per device model", now.Models.Select(m => Row(ModelName(m.ModelId, m.Name), m.Reads + m.Writes,
                b => b.Models.FirstOrDefault(x => x.ModelId == m.ModelId) is { } p ? p.Reads + p.Writes : 0,
                m.ModelId == 0 ? "" : m.State.ToString().ToLowerInvariant())).ToList()),
            new("devices", "exits per device", now.Devices.Select(d => Row(d.Device, d.Reads + d.Writes,
                b => b.Devices.FirstOrDefault(x => x.Device == d.Device && x.ModelId == d.ModelId) is { } p ? p.Reads + p.Writes : 0,
                Host(now, d.ModelId))).ToList()),
            new("addresses", "busiest ports and MMIO pages", now.Addresses.Select(a => Row(AddressName(a), a.Reads + a.Writes,
                b => b.Addresses.FirstOrDefault(x => x.Space == a.Space && x.Address == a.Address) is { } p ? p.Reads + p.Writes : 0,
                a.Device.Length == 0 ? "(unclaimed)" : a.Device)).ToList()),
            new("deviceCounters", "device counters", now.Counters.Select(c => Row($"{c.Device} {c.Counter}", c.Value,
                b => b.Counters.FirstOrDefault(x => x.Device == c.Device && x.Counter == c.Counter)?.Value ?? 0)).ToList()),
        };
        return new TopView(vm, now.State, now.ElapsedNanos / 1e9, dt, instructions, summary,
            sections.Select(s => s with { Rows = Sorted(s.Rows, sort) }).ToList());
    }

    private static string ModelName(uint id, string name) => id == 0 ? "monitor" : $"{id} {name}";

    private static string Host(StatsSnapshot s, uint modelId) =>
        modelId == 0 ? "monitor" : s.Models.FirstOrDefault(m => m.ModelId == modelId) is { } m ? ModelName(m.ModelId, m.Name) : $"{modelId}";

    public static string AddressName(AddressExits a) => a.Space == StatsSpace.Port ? $"port 0x{a.Address:X}" : $"mmio 0x{a.Address:X}";

    private static IReadOnlyList<TopRow> Sorted(IReadOnlyList<TopRow> rows, TopSort sort) => sort switch
    {
        TopSort.Rate => rows.OrderByDescending(r => r.PerSecond).ThenByDescending(r => r.Total).ThenBy(r => r.Name, StringComparer.Ordinal).ToList(),
        TopSort.Total => rows.OrderByDescending(r => r.Total).ThenBy(r => r.Name, StringComparer.Ordinal).ToList(),
        _ => rows.OrderBy(r => r.Name, StringComparer.Ordinal).ToList(),
    };
}
