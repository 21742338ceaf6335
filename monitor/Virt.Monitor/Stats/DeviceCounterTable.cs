namespace Virt.Monitor.Stats;

/// <summary>
/// The devices' own counters for the run's report ("devices" in the table and the --stats JSON):
/// the monitor's devices first, then each device model's in attachment order. A device is keyed by
/// its name; a name already taken (two models with a device of the same name) gets "#ID", the
/// attachment id of its model. Names with control characters are left out (they reach the terminal),
/// and a counter a device reports twice counts once (its first value).
/// </summary>
public sealed class DeviceCounterTable
{
    private readonly List<DeviceCounterRow> _rows = new();
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);

    public IReadOnlyList<DeviceCounterRow> Rows => _rows;

    /// <param name="hostId">The attachment id of the device model hosting it; null for the monitor's own devices.</param>
    /// <param name="host">Who hosts it, for the table ("monitor", "device model 1 'virt-dm'").</param>
    public void Add(string device, uint? hostId, string host, IEnumerable<(string Name, long Value)> counters)
    {
        if (!Printable(device)) return;
        string key = _keys.Contains(device) && hostId is { } id ? $"{device}#{id}" : device;
        if (!_keys.Add(key)) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = counters.Where(c => Printable(c.Name) && seen.Add(c.Name)).ToList();
        _rows.Add(new DeviceCounterRow(key, host, list));
    }

    /// <summary>A device model's MetricsReport: its triples grouped by device, in the order they came.</summary>
    public void AddReport(uint hostId, string host, IEnumerable<Virt.Shared.Control.CounterValue> triples)
    {
        foreach (var device in triples.GroupBy(t => t.Device, StringComparer.Ordinal))
            Add(device.Key, hostId, host, device.Select(t => (t.Counter, t.Value > long.MaxValue ? long.MaxValue : (long)t.Value)));
    }

    private static bool Printable(string name) => name.Length > 0 && !name.Any(char.IsControl);
}
