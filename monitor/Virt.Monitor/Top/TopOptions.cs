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

    public const string Usage = """
        usage: virt top [VM] [options]   a live view of a running VM: exits, round trips, devices
          VM                     the monitor's pid or the VM directory name (see virt list); may be left
                                 out when exactly one VM runs
          -d, --interval SECONDS time between two refreshes, and the interval of --once / --json (default 1)
          --sort rate|total|name order of the rows (default rate: busiest now first)
          -1, --once             print one view as text and exit (the default when stdout is not a terminal)
          --json                 print one view as JSON and exit
        keys: s next sort order (r rate, t total, n name), space freeze / unfreeze, q quit
        """;

    public static TopOptions Parse(string[] args)
    {
        var o = new TopOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value\n{Usage}");
            o = a switch
            {
                "-d" or "--interval" => o with { Interval = ParseInterval(a, Next()) },
                "--sort" => o with { Sort = ParseSort(Next()) },
                "-1" or "--once" => o with { Once = true },
                "--json" => o with { Json = true },
                "-h" or "--help" => throw new Cli.RunOptions.HelpRequested(),
                _ when a.StartsWith('-') || o.Vm is not null => throw new ArgumentException($"unexpected '{a}'\n{Usage}"),
                _ => o with { Vm = a },
            };
        }
        return o;
    }

    private static TimeSpan ParseInterval(string option, string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0.05 && v <= 3600
            ? TimeSpan.FromSeconds(v)
            : throw new ArgumentException($"{option} {s}: expected seconds from 0.05 to 3600");

    public static TopSort ParseSort(string s) => s switch
    {
        "rate" => TopSort.Rate,
        "total" => TopSort.Total,
        "name" => TopSort.Name,
        _ => throw new ArgumentException($"--sort {s}: expected rate, total or name"),
    };
}
