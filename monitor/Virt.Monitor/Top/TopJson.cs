using System.Text.Json;

namespace Virt.Monitor.Top;

/// <summary>`virt top --json`: the view as one JSON object, every row (zeros included), for scripts.</summary>
public static class TopJson
{
    public static void Write(Stream stream, TopView v)
    {
        using var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        j.WriteStartObject();
        j.WriteString("vm", v.Vm);
        j.WriteString("state", v.State.ToString().ToLowerInvariant());
        j.WriteNumber("elapsedSeconds", v.ElapsedSeconds);
        j.WriteNumber("intervalSeconds", v.IntervalSeconds);
        j.WritePropertyName("instructions");
        Rate(j, v.Instructions);
        j.WriteStartObject("totals");
        foreach (TopRow r in v.Summary)
        {
            j.WritePropertyName(r.Name);
            Rate(j, r);
        }
        j.WriteEndObject();
        foreach (TopSection s in v.Sections)
        {
            j.WriteStartArray(s.Key);
            foreach (TopRow r in s.Rows)
            {
                j.WriteStartObject();
                j.WriteString("name", r.Name);
                if (r.Detail.Length > 0) j.WriteString("detail", r.Detail);
                j.WriteNumber("perSecond", Math.Round(r.PerSecond, 1));
                j.WriteNumber("total", r.Total);
                j.WriteEndObject();
            }
            j.WriteEndArray();
        }
        j.WriteEndObject();
    }

    private static void Rate(Utf8JsonWriter j, TopRow r)
    {
        j.WriteStartObject();
        j.WriteNumber("perSecond", Math.Round(r.PerSecond, 1));
        j.WriteNumber("total", r.Total);
        j.WriteEndObject();
    }
}
