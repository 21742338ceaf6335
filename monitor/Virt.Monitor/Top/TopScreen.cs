using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Virt.Monitor.Top;

/// <summary>The terminal view of `virt top` (Spectre.Console): a header, then the sections as tables side by side as the width allows.</summary>
public static class TopScreen
{
    /// <summary>Rows per section on screen; the rest are one sort key away (or in --json).</summary>
    private const int RowsPerSection = 8;

    public static IRenderable Render(TopView v, TopSort sort, bool frozen)
    {
        var ci = CultureInfo.InvariantCulture;
        string state = v.State.ToString().ToLowerInvariant();
        var header = new Markup(string.Create(ci,
            $"[bold]virt top[/] {Markup.Escape(v.Vm)}  [bold]{state}[/]  up {v.ElapsedSeconds:F1} s   sort: [bold]{sort.ToString().ToLowerInvariant()}[/]{(frozen ? "   [reverse] FROZEN [/]" : "")}\n") +
            string.Create(ci, $"[bold]instructions[/] {TopText.Mips(v.Instructions.PerSecond)} ({v.Instructions.Total:N0})   ") +
            string.Join("   ", v.Summary.Take(4).Select(r => string.Create(ci, $"[bold]{Markup.Escape(r.Name)}[/] {r.PerSecond:N0}/s ({r.Total:N0})"))) + "\n" +
            string.Join("   ", v.Summary.Skip(4).Select(r => string.Create(ci, $"{Markup.Escape(r.Name)} {r.PerSecond:N0}/s ({r.Total:N0})"))));
        var tables = v.Sections.Select(Table).ToList();
        var keys = new Markup("[dim]s sort (r rate, t total, n name)   space freeze   q quit[/]");
        return new Rows(header, new Columns(tables) { Expand = false }, keys);
    }

    private static Table Table(TopSection s)
    {
        var ci = CultureInfo.InvariantCulture;
        var t = new Table { Border = TableBorder.Simple, Title = new TableTitle(Markup.Escape(s.Title)) };
        t.AddColumn("name");
        t.AddColumn(new TableColumn("/s").RightAligned());
        t.AddColumn(new TableColumn("total").RightAligned());
        var rows = s.Rows.Where(r => r.Total != 0).Take(RowsPerSection).ToList();
        foreach (TopRow r in rows)
        {
            t.AddRow(new Markup(r.Detail.Length > 0 ? $"{Markup.Escape(r.Name)} [dim]{Markup.Escape(r.Detail)}[/]" : Markup.Escape(r.Name)),
                new Text(r.PerSecond.ToString("N0", ci)), new Text(r.Total.ToString("N0", ci)));
        }
        if (rows.Count == 0) t.AddRow(new Text("-"), new Text(""), new Text(""));
        return t;
    }
}
