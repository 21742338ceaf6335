using System.Diagnostics;
using System.Numerics;

namespace Virt.Monitor.Stats;

/// <summary>
/// Latencies in Stopwatch ticks, as a log-linear histogram (HdrHistogram's layout): values below 128
/// ticks exactly, above that 64 buckets per power of two, so a percentile is within 1/64 (1.6%) of
/// the true value (Stopwatch ticks are nanoseconds on Linux: 4 ns at 300 ns, 16 µs at 1 ms). Every
/// sample counts, however long the run, and <see cref="Add"/> allocates nothing: it is on the exit
/// path, where the previous recorder's growing array of samples was the one allocation left
/// (docs/wakeup.md, "Allocations per exit"). Written by one thread; read when it is done.
/// </summary>
public sealed class LatencyRecorder
{
    private const int SubBits = 6;
    private const int Sub = 1 << SubBits;       // buckets per power of two
    private const int Exact = 2 * Sub;          // values below this have a bucket each
    // The largest long has its top bit at 62: shift 62 - SubBits, then one octave of Sub buckets.
    private const int Buckets = (62 - SubBits + 1) * Sub + Sub;

    private readonly long[] _counts = new long[Buckets];

    public long Count { get; private set; }

    public void Add(long ticks)
    {
        Count++;
        _counts[Index(Math.Max(0, ticks))]++;
    }

    private static int Index(long v)
    {
        if (v < Exact) return (int)v;
        int shift = 63 - BitOperations.LeadingZeroCount((ulong)v) - SubBits;
        return shift * Sub + (int)(v >> shift);
    }

    // The middle of a bucket: its value for a percentile.
    private static double Value(int index)
    {
        if (index < Exact) return index;
        int shift = index / Sub - 1;
        long lower = (long)(index - shift * Sub) << shift;
        return lower + ((1L << shift) - 1) / 2.0;
    }

    /// <summary>Percentiles (0-100) in microseconds (nearest rank, the bucket's middle); empty when there are no samples.</summary>
    public double[] PercentilesMicros(params double[] percentiles)
    {
        long n = Count;
        if (n == 0) return [];
        var result = new double[percentiles.Length];
        for (int i = 0; i < percentiles.Length; i++)
        {
            long rank = (long)Math.Clamp(Math.Ceiling(percentiles[i] / 100.0 * n) - 1, 0, n - 1);
            long seen = 0;
            int b = 0;
            for (; b < _counts.Length - 1; b++)
            {
                seen += _counts[b];
                if (seen > rank) break;
            }
            result[i] = Value(b) * 1_000_000.0 / Stopwatch.Frequency;
        }
        return result;
    }
}
