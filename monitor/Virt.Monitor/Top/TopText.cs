using System.Globalization;

namespace Virt.Monitor.Top;

/// <summary>`virt top --once` (and `virt top` with stdout not a terminal): the view as plain text, every non-zero row.</summary>
public static class TopText
{
    public static void Write(TextWriter w, TopView v)
    {
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(ci, $"virt top: {v.Vm}  {v.State.ToString().ToLowerInvariant()}  up {v.ElapsedSeconds:F1} s  rates over {v.IntervalSeconds:F2} s"));
        w.WriteLine(string.Create(ci, $"{"instructions/s",-16} {Mips(v.Instructions.PerSecond),14}  total {v.Instructions.Total,16:N0}"));
        w.WriteLine(string.Join("  ", v.Summary.Select(r => string.Create(ci, $"{r.Name} {r.PerSecond:N0}/s ({r.Total:N0})"))));
        foreach (TopSection s in v.Sections)
        {
            var rows = s.Rows.Where(r => r.Total != 0).ToList();
            if (rows.Count == 0) continue;
            w.WriteLine();
            w.WriteLine($"{s.Title,-36} {"/s",12} {"total",16}  ");
            foreach (TopRow r in rows)
                w.WriteLine(string.Create(ci, $"  {r.Name,-34} {r.PerSecond,12:N0} {r.Total,16:N0}  {r.Detail}").TrimEnd());
        }
    }

    /// <summary>Instructions per second the way people say them: 123.4 M/s.</summary>
    public static string Mips(double perSecond) => string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e6:F1} M/s");
}
