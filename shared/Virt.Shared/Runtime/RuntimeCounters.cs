namespace Virt.Shared.Runtime;

/// <summary>
/// The .NET runtime's own costs in this process so far: garbage collections by generation, the
/// total time the GC paused the process, and the bytes allocated. Taken by both processes (the
/// monitor's report, the device model kit's "runtime" counters, `virt bench wakeup`) so that a
/// round trip's tail can be held against the GC pauses in either process (docs/wakeup.md).
/// </summary>
public readonly record struct RuntimeCounters(long Gen0, long Gen1, long Gen2, long PauseMicros, long AllocatedBytes)
{
    /// <summary>The name under which a device model reports these as device counters (MetricsReport).</summary>
    public const string DeviceName = "runtime";

    public static RuntimeCounters Now() => new(
        GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
        (long)GC.GetTotalPauseDuration().TotalMicroseconds, GC.GetTotalAllocatedBytes(precise: false));

    /// <summary>What happened between <paramref name="before"/> and this.</summary>
    public RuntimeCounters Since(RuntimeCounters before) => new(
        Gen0 - before.Gen0, Gen1 - before.Gen1, Gen2 - before.Gen2, PauseMicros - before.PauseMicros, AllocatedBytes - before.AllocatedBytes);

    /// <summary>Collections of any generation (a gen 2 collection counts in gen 0 and 1 too: this is gen 0's count).</summary>
    public long Collections => Gen0;

    /// <summary>The counters as (name, value), as the device model reports them.</summary>
    public IEnumerable<(string Name, long Value)> Named()
    {
        yield return ("gc_gen0", Gen0);
        yield return ("gc_gen1", Gen1);
        yield return ("gc_gen2", Gen2);
        yield return ("gc_pause_us", PauseMicros);
        yield return ("allocated_bytes", AllocatedBytes);
    }

    /// <summary>Reads the counters back from a device model's report (missing ones are 0).</summary>
    public static RuntimeCounters FromNamed(IEnumerable<(string Name, long Value)> counters)
    {
        long g0 = 0, g1 = 0, g2 = 0, pause = 0, bytes = 0;
        foreach (var (name, value) in counters)
        {
            switch (name)
            {
                case "gc_gen0": g0 = value; break;
                case "gc_gen1": g1 = value; break;
                case "gc_gen2": g2 = value; break;
                case "gc_pause_us": pause = value; break;
                case "allocated_bytes": bytes = value; break;
            }
        }
        return new(g0, g1, g2, pause, bytes);
    }
}
