using System.Globalization;

namespace Virt.Monitor.Top;

/// <summary>The options of `virt top`.</summary>
public sealed record TopOptions
{
    /// <summary>The VM (pid or directory name); null: the only one running.</summary>
    public string? Vm { get; init; }
    /// <summary>Print one view (over one interval) as text and exit: what a script or a log wants.</summary>
    public bool Once { get; init; }
    /// <summary>Print one view as JSON and exit.</summary>
    public bool Json { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
    public TopSort Sort { get; init; } = TopSort.Rate;

    public static TimeSpan ParseInterval(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0.05 && v <= 3600
            ? TimeSpan.FromSeconds(v)
            : throw new ArgumentException($"--interval {s}: expected seconds from 0.05 to 3600");

    public static TopSort ParseSort(string s) => s switch
    {
        "rate" => TopSort.Rate,
        "total" => TopSort.Total,
        "name" => TopSort.Name,
        _ => throw new ArgumentException($"--sort {s}: expected rate, total or name"),
    };
}
