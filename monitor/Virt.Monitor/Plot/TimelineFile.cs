using System.Text.Json;

namespace Virt.Monitor.Plot;

/// <summary>The "timeline" of a `virt run --stats` file (Stats/Timeline): interval ends and each interval's counts.</summary>
public sealed record TimelineFile(string Source, double[] Seconds, double IntervalSeconds, IReadOnlyDictionary<string, double[]> Series,
    IReadOnlyDictionary<string, double[]> ExitsByReason)
{
    public static TimelineFile Read(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new InvalidDataException($"{path}: {e.Message}");
        }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("timeline", out JsonElement t) || t.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: no \"timeline\": not the --stats file of a virt run that recorded one");
            double[] seconds = Numbers(path, t, "seconds");
            var series = new Dictionary<string, double[]>();
            foreach (string name in new[] { "instructions", "exits", "roundTrips", "batchedWrites", "cachedReadHits", "flushes" })
                if (t.TryGetProperty(name, out _)) series[name] = Numbers(path, t, name, seconds.Length);
            var reasons = new Dictionary<string, double[]>();
            if (t.TryGetProperty("exitsByReason", out JsonElement r) && r.ValueKind == JsonValueKind.Object)
                foreach (JsonProperty p in r.EnumerateObject()) reasons[p.Name] = Numbers(path, r, p.Name, seconds.Length);
            double interval = t.TryGetProperty("intervalSeconds", out JsonElement i) && i.TryGetDouble(out double v) ? v : 0;
            return new TimelineFile(path, seconds, interval, series, reasons);
        }
    }

    private static double[] Numbers(string path, JsonElement parent, string name, int? length = null)
    {
        if (!parent.TryGetProperty(name, out JsonElement a) || a.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: timeline \"{name}\" is missing or not an array");
        var list = new List<double>();
        foreach (JsonElement x in a.EnumerateArray())
            list.Add(x.ValueKind == JsonValueKind.Number ? x.GetDouble() : throw new InvalidDataException($"{path}: timeline \"{name}\" holds a non-number"));
        if (length is { } n && list.Count != n)
            throw new InvalidDataException($"{path}: timeline \"{name}\" has {list.Count} values for {n} intervals");
        return list.ToArray();
    }

    /// <summary>Each interval's count per second of that interval.</summary>
    public double[] PerSecond(double[] counts)
    {
        var rates = new double[counts.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            double dt = Seconds[i] - (i == 0 ? 0 : Seconds[i - 1]);
            rates[i] = dt > 0 ? counts[i] / dt : 0;
        }
        return rates;
    }
}
