using System.Globalization;

namespace Virt.Monitor.Plot;

/// <summary>`virt plot F.json -o F.png|F.svg`: draws the timeline of a `virt run --stats` file.</summary>
public static class PlotCommand
{
    public const string Usage = """
        usage: virt plot STATS.json -o FILE.png|FILE.svg [options]
          draws the timeline of a `virt run --stats STATS.json` run: exits per second by reason and round
          trips per second (log scale) over wall time, and instructions per second below (docs/observing.md)
          -o, --output FILE      the picture: .png or .svg
          --title TEXT           the chart's title (default: the stats file's name and the interval)
          --size WxH             pixels (default 1200x700)
        """;

    public static int Run(string[] args)
    {
        string? input = null, output = null, title = null;
        int width = 1200, height = 700;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value\n{Usage}");
            switch (a)
            {
                case "-o" or "--output": output = Next(); break;
                case "--title": title = Next(); break;
                case "--size": (width, height) = ParseSize(Next()); break;
                case "-h" or "--help": Console.Out.WriteLine(Usage); return 0;
                default:
                    if (a.StartsWith('-') || input is not null) throw new ArgumentException($"unexpected '{a}'\n{Usage}");
                    input = a;
                    break;
            }
        }
        if (input is null || output is null) throw new ArgumentException($"virt plot needs a stats file and -o FILE\n{Usage}");
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
