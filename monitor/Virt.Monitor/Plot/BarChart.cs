namespace Virt.Monitor.Plot;

/// <summary>
/// Grouped bars, one group per item (a workload, a boot row) and one bar per series in it (a mode),
/// side by side, each labelled with its value: the benchmarks' comparisons (`virt bench io --chart`,
/// `virt bench boot --chart`).
/// </summary>
public static class BarChart
{
    public sealed record Series(string Name, double[] Values, string[] Labels);

    public static ScottPlot.Plot Grouped(string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<Series> series)
    {
        var plot = new ScottPlot.Plot();
        plot.Title(title);
        plot.YLabel(yLabel);
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / Math.Max(1, series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<ScottPlot.Bar>();
            for (int g = 0; g < groups.Count; g++)
            {
                double x = g + (s - (series.Count - 1) / 2.0) * width;
                bars.Add(new ScottPlot.Bar
                {
                    Position = x,
                    Value = series[s].Values[g],
                    Size = width * 0.95,
                    FillColor = palette.GetColor(s),
                    Label = series[s].Labels[g],
                });
            }
            var plotted = plot.Add.Bars(bars);
            plotted.LegendText = series[s].Name;
            plotted.ValueLabelStyle.FontSize = 10;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, groups.Count).Select(g => (double)g).ToArray(), groups.ToArray());
        plot.Axes.Margins(bottom: 0, top: 0.3);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot;
    }
}
