using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Virt.Monitor.Stats;

/// <summary>
/// The run over time, for `virt run --stats` and `virt plot`: a thread of its own wakes every
/// interval of wall time and copies the run's counters (exits by reason, round trips, batched
/// writes, cached hits, instructions) — the exit path does nothing more per exit, and the VCPU is
/// never stopped (<see cref="ExitStatistics"/> says why reading while it runs is safe). A long run
/// keeps at most <see cref="MaxSamples"/> samples: at that many, every other one is dropped and the
/// interval doubles, so the memory stays bounded and the counts still add up to the run's totals
/// (the samples are cumulative; the JSON gives each interval's difference).
/// </summary>
public sealed class Timeline(ExitStatistics stats, Func<long> instructions, TimeSpan interval) : IDisposable
{
    public const int MaxSamples = 1 << 15;

    // One sample: the counters, cumulative, at Seconds after the start.
    private readonly record struct Sample(double Seconds, long Instructions, long Exits, long RoundTrips, long BatchedWrites,
        long CachedReadHits, long Flushes, long[] ByKind);

    private readonly List<Sample> _samples = new();
    private readonly ManualResetEventSlim _stop = new();
    private readonly Stopwatch _clock = new();
    private TimeSpan _interval = interval;
    private Thread? _thread;

    public void Start()
    {
        _clock.Start();
        _thread = new Thread(Run) { Name = "stats-timeline", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Stops the sampler and takes the last sample; call when the VCPU has stopped, so the samples end at the run's totals.</summary>
    public void Stop()
    {
        _stop.Set();
        _thread?.Join();
        if (_thread is not null) Take();
        _thread = null;
    }

    private void Run()
    {
        long tick = 1;
        while (true)
        {
            // Deadlines from the start, not from the last wake-up: a late wake does not shift the ones after it.
            // The wait is in whole milliseconds, rounded up (a shorter one would return at once and spin).
            TimeSpan left = _interval * tick - _clock.Elapsed;
            if (left > TimeSpan.Zero)
            {
                if (_stop.Wait((int)Math.Ceiling(left.TotalMilliseconds))) return;
                continue;
            }
            Take();
            tick = (long)(_clock.Elapsed / _interval) + 1;
        }
    }

    private void Take()
    {
        var byKind = new long[ExitKinds.Count];
        foreach (ExitKind k in ExitKinds.All) byKind[(int)k] = stats.Exits(k);
        long flushes = stats.FlushesByReason.Values.Sum();
        var s = new Sample(_clock.Elapsed.TotalSeconds, instructions(), stats.TotalExits, stats.RoundTrips, stats.BatchedWrites,
            stats.CachedReadHits, flushes, byKind);
        lock (_samples)
        {
            _samples.Add(s);
            if (_samples.Count < MaxSamples) return;
            // Keep the end of every pair: the cumulative counts still end where they did.
            var kept = new List<Sample>(_samples.Count / 2 + 1);
            for (int i = 1; i < _samples.Count; i += 2) kept.Add(_samples[i]);
            _samples.Clear();
            _samples.AddRange(kept);
            _interval *= 2;
        }
    }

    /// <summary>
    /// "timeline": { "intervalSeconds", "seconds" (each interval's end), then per interval "instructions",
    /// "exits", "roundTrips", "batchedWrites", "cachedReadHits", "flushes", and "exitsByReason" (the reasons
    /// that happened). Arrays are written on one line each: a boot has thousands of intervals.
    /// </summary>
    public void WriteJson(Utf8JsonWriter j)
    {
        Sample[] samples;
        lock (_samples) samples = _samples.ToArray();
        j.WriteStartObject("timeline");
        j.WriteNumber("intervalSeconds", _interval.TotalSeconds);
        j.WritePropertyName("seconds");
        j.WriteRawValue(Array(samples.Select(s => s.Seconds.ToString("0.######", CultureInfo.InvariantCulture))));
        Series(j, "instructions", samples, s => s.Instructions);
        Series(j, "exits", samples, s => s.Exits);
        Series(j, "roundTrips", samples, s => s.RoundTrips);
        Series(j, "batchedWrites", samples, s => s.BatchedWrites);
        Series(j, "cachedReadHits", samples, s => s.CachedReadHits);
        Series(j, "flushes", samples, s => s.Flushes);
        j.WriteStartObject("exitsByReason");
        foreach (ExitKind k in ExitKinds.All)
            if (samples.Length > 0 && samples[^1].ByKind[(int)k] != 0) Series(j, ExitKinds.Name(k), samples, s => s.ByKind[(int)k]);
        j.WriteEndObject();
        j.WriteEndObject();
    }

    /// <summary>Each interval's count: the difference of consecutive cumulative samples (the first from zero).</summary>
    private static void Series(Utf8JsonWriter j, string name, Sample[] samples, Func<Sample, long> value)
    {
        j.WritePropertyName(name);
        long previous = 0;
        j.WriteRawValue(Array(samples.Select(s =>
        {
            long v = value(s), d = v - previous;
            previous = v;
            return d.ToString(CultureInfo.InvariantCulture);
        })));
    }

    private static string Array(IEnumerable<string> items) => new StringBuilder("[").AppendJoin(',', items).Append(']').ToString();

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }
}
