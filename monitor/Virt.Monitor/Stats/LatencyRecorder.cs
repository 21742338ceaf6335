using System.Diagnostics;

namespace Virt.Monitor.Stats;

/// <summary>
/// Round-trip latencies in Stopwatch ticks. Keeps the first million samples exactly (a long run's
/// percentiles are those of its first million round trips; Count is exact).
/// </summary>
public sealed class LatencyRecorder
{
    private const int Capacity = 1 << 20;
    private long[] _samples = new long[1024];
    private int _kept;

    public long Count { get; private set; }

    public void Add(long ticks)
    {
        Count++;
        if (_kept == _samples.Length)
        {
            if (_kept >= Capacity) return;
            Array.Resize(ref _samples, _kept * 2);
        }
        _samples[_kept++] = ticks;
    }

    /// <summary>Percentiles (0-100) in microseconds; empty when there are no samples.</summary>
    public double[] PercentilesMicros(params double[] percentiles)
    {
        if (_kept == 0) return [];
        long[] sorted = _samples.AsSpan(0, _kept).ToArray();
        Array.Sort(sorted);
        var result = new double[percentiles.Length];
        for (int i = 0; i < percentiles.Length; i++)
        {
            int index = (int)Math.Clamp(Math.Ceiling(percentiles[i] / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1);
            result[i] = sorted[index] * 1_000_000.0 / Stopwatch.Frequency;
        }
        return result;
    }
}
