namespace Virt.Monitor.Plot;

/// <summary>
/// `virt plot`'s picture of a run: exits per second by reason and round trips per second over wall
/// time (log scale: a boot's quiet phases and its busy ones differ by orders of magnitude), and below
/// them instructions per second, on the same time axis, so a phase that computes and one that waits
/// on devices are told apart at a glance.
/// </summary>
public static class TimelineChart
{
    public static IReadOnlyList<ScottPlot.Plot> Panels(TimelineFile t, string title)
    {
        var events = new ScottPlot.Plot();
        events.Title(title);
        events.YLabel("per second (log)");
        ChartFile.LogScaleY(events);
        var palette = new ScottPlot.Palettes.Category10();
        int colour = 0;
        double max = 1;
        ScottPlot.Plottables.Scatter Line(double[] counts, string name, ScottPlot.Color c, float width)
        {
            double[] rates = t.PerSecond(counts);
            max = Math.Max(max, rates.DefaultIfEmpty(0).Max());
            var s = events.Add.ScatterLine(t.Seconds, rates.Select(Log).ToArray(), c);
            s.LegendText = name;
            s.LineWidth = width;
            return s;
        }
        foreach (var (reason, counts) in t.ExitsByReason.OrderByDescending(kv => kv.Value.Sum()))
            Line(counts, $"exits {reason}", palette.GetColor(colour++), 1.5f);
        if (t.Series.TryGetValue("roundTrips", out double[]? trips))
        {
            var line = Line(trips, "round trips", ScottPlot.Colors.Black, 1.5f);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        if (t.Series.TryGetValue("batchedWrites", out double[]? batched) && batched.Sum() > 0)
            Line(batched, "batched writes", ScottPlot.Colors.Gray, 1f);
        events.ShowLegend(ScottPlot.Alignment.UpperRight);
        events.Axes.SetLimitsY(0, Math.Max(1, Log(max)) + 0.5);

        var cpu = new ScottPlot.Plot();
        cpu.YLabel("instructions / s (M)");
        cpu.XLabel("seconds of wall time since the guest started");
        if (t.Series.TryGetValue("instructions", out double[]? instructions))
        {
            var s = cpu.Add.ScatterLine(t.Seconds, t.PerSecond(instructions).Select(v => v / 1e6).ToArray(), ScottPlot.Colors.DarkGreen);
            s.LegendText = "instructions";
            s.LineWidth = 1.5f;
        }
        return [events, cpu];
    }

    /// <summary>log10 of a rate, 0 (one per second) for none: the axis starts at 1/s.</summary>
    private static double Log(double rate) => Math.Log10(Math.Max(rate, 1));
}
