namespace Virt.Devices.Timing;

/// <summary>
/// Exact integer conversions between clocks of different rates (host timestamps, the PIT's
/// 1.193182 MHz input, the RTC's 32.768 kHz divider). Splitting into whole periods and a
/// remainder keeps the products far below 2^63 for any realistic uptime, where a plain
/// value * rate would overflow after hours; no floating point, so results never drift.
/// </summary>
public static class TimeMath
{
    /// <summary>floor(value * numerator / denominator) for value &gt;= 0.</summary>
    public static long ScaleFloor(long value, long numerator, long denominator)
    {
        long whole = value / denominator;
        long rest = value % denominator;
        return whole * numerator + rest * numerator / denominator;
    }

    /// <summary>ceil(value * numerator / denominator) for value &gt;= 0.</summary>
    public static long ScaleCeiling(long value, long numerator, long denominator)
    {
        long whole = value / denominator;
        long rest = value % denominator;
        return whole * numerator + (rest * numerator + denominator - 1) / denominator;
    }

    /// <summary>A host timestamp difference as a TimeSpan, rounded up; negative differences give zero.</summary>
    public static TimeSpan TimestampsToTimeSpan(long delta, long frequency) =>
        delta <= 0 ? TimeSpan.Zero : new TimeSpan(ScaleCeiling(delta, TimeSpan.TicksPerSecond, frequency));
}
