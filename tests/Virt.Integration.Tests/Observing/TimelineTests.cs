using System.Text.Json;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Bench;

namespace Virt.Integration.Tests.Observing;

/// <summary>The --stats timeline of a real run, and `virt plot` drawing it.</summary>
public class TimelineTests
{
    /// <summary>A real run with many exits (COM1 writes, every one a round trip) and a 1 ms timeline.</summary>
    private static async Task<(string Stats, JsonElement Root)> RunAsync()
    {
        string kernel = TempDir.WriteImage(IoWorkloads.SerialBurst(20_000));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-q", "--io", "naive", "--serial", "none", "--stats", stats, "--stats-interval", "1"]);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(File.Exists(stats), $"status {status}\n{run.Describe()}");
        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        return (stats, doc.RootElement.Clone());
    }

    private static long[] Longs(JsonElement a) => a.EnumerateArray().Select(x => x.GetInt64()).ToArray();

    [Fact]
    public async Task The_stats_timeline_has_monotone_intervals_whose_counts_add_up_to_the_run_totals()
    {
        var (_, root) = await RunAsync();
        JsonElement t = root.GetProperty("timeline");
        Assert.Equal(0.001, t.GetProperty("intervalSeconds").GetDouble());
        double[] seconds = t.GetProperty("seconds").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.True(seconds.Length >= 3, $"{seconds.Length} intervals");
        for (int i = 1; i < seconds.Length; i++) Assert.True(seconds[i] > seconds[i - 1], $"time goes back at interval {i}: {seconds[i - 1]} then {seconds[i]}");
        Assert.True(seconds[0] > 0);

        foreach (string series in (string[])["instructions", "exits", "roundTrips", "batchedWrites", "cachedReadHits", "flushes"])
        {
            long[] v = Longs(t.GetProperty(series));
            Assert.Equal(seconds.Length, v.Length);
            Assert.All(v, x => Assert.True(x >= 0));
        }
        Assert.Equal(root.GetProperty("instructions").GetInt64(), Longs(t.GetProperty("instructions")).Sum());
        Assert.Equal(root.GetProperty("exits").GetInt64(), Longs(t.GetProperty("exits")).Sum());
        Assert.Equal(root.GetProperty("roundTrips").GetProperty("count").GetInt64(), Longs(t.GetProperty("roundTrips")).Sum());
        Assert.True(root.GetProperty("exits").GetInt64() >= 20_000);

        // By reason: the same reasons as the totals, each adding up to its total.
        var reasons = root.GetProperty("exitsByReason").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
        var timelineReasons = t.GetProperty("exitsByReason").EnumerateObject().ToDictionary(p => p.Name, p => Longs(p.Value));
        Assert.Equal(reasons.Keys.Order(), timelineReasons.Keys.Order());
        foreach (var (reason, total) in reasons) Assert.Equal(total, timelineReasons[reason].Sum());
        // Exits happened in more than one interval: the samples were taken while the guest ran, not only at its end.
        Assert.True(Longs(t.GetProperty("exits")).Count(x => x > 0) >= 2, string.Join(",", Longs(t.GetProperty("exits"))));
    }

    [Fact]
    public async Task Virt_plot_draws_a_real_run_as_png_and_svg()
    {
        var (stats, _) = await RunAsync();
        string dir = Path.GetDirectoryName(stats)!;
        string png = Path.Combine(dir, "run.png"), svg = Path.Combine(dir, "run.svg");
        string runtime = TempDir.Create("virt-rt");

        var (code, _, err) = await DeviceModels.VirtCli.RunAsync(runtime, "plot", stats, "-o", png);
        Assert.True(code == 0, err);
        byte[] image = File.ReadAllBytes(png);
        Assert.True(image.Length > 1000, $"{image.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, image[..8]);

        (code, _, err) = await DeviceModels.VirtCli.RunAsync(runtime, "plot", stats, "-o", svg, "--title", "a serial burst");
        Assert.True(code == 0, err);
        string text = File.ReadAllText(svg);
        Assert.Contains("<svg", text);
        foreach (string series in (string[])["a serial burst", "exits io-out", "round trips", "instructions"])
            Assert.Contains(series, text);
    }

    [Fact]
    public async Task Virt_plot_refuses_a_file_without_a_timeline_and_an_unknown_picture_format()
    {
        string dir = TempDir.Create("virt-plot");
        string notStats = Path.Combine(dir, "other.json");
        File.WriteAllText(notStats, """{ "exits": 3 }""");
        var (code, _, err) = await DeviceModels.VirtCli.RunAsync(dir, "plot", notStats, "-o", Path.Combine(dir, "x.png"));
        Assert.Equal(1, code);
        Assert.Contains("no \"timeline\"", err);
        Assert.False(File.Exists(Path.Combine(dir, "x.png")));

        (code, _, err) = await DeviceModels.VirtCli.RunAsync(dir, "plot", notStats, "-o", Path.Combine(dir, "x.gif"));
        Assert.Equal(2, code);
        Assert.Contains(".png or .svg", err);

        File.WriteAllText(notStats, "{ not json");
        (code, _, err) = await DeviceModels.VirtCli.RunAsync(dir, "plot", notStats, "-o", Path.Combine(dir, "x.svg"));
        Assert.Equal(1, code);
        Assert.DoesNotContain("   at ", err);

        (code, _, err) = await DeviceModels.VirtCli.RunAsync(dir, "run", "--demo", "--stats-interval", "5");
        Assert.Equal(2, code);
        Assert.Contains("--stats-interval needs --stats", err);
    }
}
