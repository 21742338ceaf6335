using ScottPlot;
using SkiaSharp;

namespace Virt.Monitor.Plot;

/// <summary>
/// Writes a chart of one or more panels (stacked, sharing the width) as PNG or SVG, told by the
/// file's extension. Drawn by ScottPlot with SkiaSharp, headless: no display, fonts from the system.
/// </summary>
public static class ChartFile
{
    /// <summary>"png" or "svg" for a path, or a clear error for anything else (before any work is done).</summary>
    public static string FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => "png",
        ".svg" => "svg",
        _ => throw new ArgumentException($"{path}: the chart is written as .png or .svg, told by the file's extension"),
    };

    public static void Save(string path, IReadOnlyList<ScottPlot.Plot> panels, int width, int height)
    {
        string format = FormatOf(path);
        // Made with its first panel: an empty Multiplot already holds a blank plot of its own.
        var multiplot = new Multiplot(panels[0]);
        foreach (ScottPlot.Plot p in panels.Skip(1)) multiplot.AddPlot(p);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Rows();
        if (panels.Count > 1) multiplot.SharedAxes.ShareX(panels);
        var rect = new PixelRect(0, width, height, 0);
        using FileStream file = File.Create(path);
        if (format == "svg")
        {
            // Text stays text in the SVG (legend and titles searchable), as ScottPlot's own SaveSvg does.
            using (SKCanvas canvas = SKSvgCanvas.Create(new SKRect(0, 0, width, height), file))
                multiplot.Render(canvas, rect);
            return;
        }
        using SKSurface surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new IOException("cannot make a drawing surface");
        surface.Canvas.Clear(SKColors.White);
        multiplot.Render(surface.Canvas, rect);
        using SKImage image = surface.Snapshot();
        using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
        png.SaveTo(file);
    }

    /// <summary>
    /// A log-scale Y axis for rates that span orders of magnitude (a boot's idle phases and its busy
    /// ones): the values given are log10 of the rate, the ticks are labelled with the rate itself.
    /// </summary>
    public static void LogScaleY(ScottPlot.Plot plot)
    {
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y) switch
            {
                >= 1e6 => $"{Math.Pow(10, y) / 1e6:0.#}M",
                >= 1e3 => $"{Math.Pow(10, y) / 1e3:0.#}k",
                var v => $"{v:0.#}",
            },
        };
    }
}
