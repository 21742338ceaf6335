namespace Virt.Monitor.Stats;

/// <summary>One device's counters in the run's report: its key (the device's name), who hosts it, the counters in the device's order.</summary>
public sealed record DeviceCounterRow(string Key, string Host, IReadOnlyList<(string Name, long Value)> Counters)
{
    public bool AnyNonZero => Counters.Any(c => c.Value != 0);
}
