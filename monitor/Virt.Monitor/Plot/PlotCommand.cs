using System.CommandLine;
using System.Globalization;
using Virt.CommandLine;

namespace Virt.Monitor.Plot;

/// <summary>`virt plot F.json -o F.png|F.svg`: draws the timeline of a `virt run --stats` file.</summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("STATS.json") { Description = "the file of a `virt run --stats STATS.json` run" };
        Option<string?> output = LastValueOption.Create<string?>("--output", "FILE.png|FILE.svg", "the picture: .png or .svg", s => { ChartFile.FormatOf(s); return s; }, "-o");
        output.Required = true;
        Option<string?> title = LastValueOption.Text("--title", "TEXT", "the chart's title (default: the stats file's name and the interval)");
        Option<(int, int)?> size = LastValueOption.Create<(int, int)?>("--size", "WxH", "pixels (default 1200x700)", s => ParseSize(s));
        var command = new Command("plot", "draw the timeline of a --stats file: exits per second by reason and round trips per second (log scale) over wall time, instructions per second below (docs/observing.md)")
        {
            input, output, title, size,
        };
        command.SetAction(r =>
        {
            (int width, int height) = r.GetValue(size) ?? (1200, 700);
            return Run(r.GetValue(input)!, r.GetValue(output)!, r.GetValue(title), width, height);
        });
        return command.WithExamples("virt run --demo --stats demo.json", "virt plot demo.json -o demo.svg --size 800x500 --title \"the demo guest\"");
    }

    public static int Run(string input, string output, string? title, int width, int height)
    {
        ChartFile.FormatOf(output);
        TimelineFile t;
        try
        {
            t = TimelineFile.Read(input);
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"virt plot: {e.Message}");
            return 1;
        }
        title ??= string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(input)}: exits and round trips per second ({t.IntervalSeconds * 1000:0.#} ms intervals)");
        try
        {
            ChartFile.Save(output, TimelineChart.Panels(t, title), width, height);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"virt plot: {output}: {e.Message}");
            return 1;
        }
        Console.Error.WriteLine($"virt plot: {output}: {t.Seconds.Length} intervals over {(t.Seconds.Length == 0 ? 0 : t.Seconds[^1]):F2} s");
        return 0;
    }

    private static (int, int) ParseSize(string s)
    {
        string[] parts = s.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h) && w is >= 200 and <= 8000 && h is >= 150 and <= 8000)
            return (w, h);
        throw new ArgumentException($"--size {s}: expected WIDTHxHEIGHT in pixels, e.g. 1200x700 (200-8000)");
    }
}
