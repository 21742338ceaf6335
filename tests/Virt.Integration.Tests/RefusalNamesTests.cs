using Virt.Shared.Abi;

namespace Virt.Integration.Tests;

/// <summary>Pins the refusal names (the keys of `refused` in --stats JSON) to the `counted as` column of docs/abi.md.</summary>
public class RefusalNamesTests
{
    [Fact]
    public void Every_refusal_has_one_name_and_the_name_maps_back()
    {
        Refusal[] all = Enum.GetValues<Refusal>();
        Assert.Equal(all.Length, RefusalNames.Count);
        Assert.Equal(all.Length, all.Select(RefusalNames.Name).Distinct().Count());
        foreach (Refusal r in all)
        {
            Assert.True(RefusalNames.TryParse(RefusalNames.Name(r), out Refusal back));
            Assert.Equal(r, back);
        }
        Assert.False(RefusalNames.TryParse("PlatformEvent", out _));
        Assert.Equal("platform-event", RefusalNames.Name(Refusal.PlatformEvent));
        Assert.Equal("ring-drained", RefusalNames.Name(Refusal.RingDrained));
        Assert.Equal("in-table-count", RefusalNames.Name(Refusal.InTableCount));
        Assert.Equal("assist-commit", RefusalNames.Name(Refusal.AssistCommit));
    }

    [Fact]
    public void The_names_are_the_ones_docs_abi_md_documents()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Virt.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        string[] rows = File.ReadAllLines(Path.Combine(dir.FullName, "docs", "abi.md"));
        // The checks table: its last column is `counted as` (— for the timeout, which is not a refusal).
        var documented = rows.SkipWhile(l => !l.StartsWith("| check |", StringComparison.Ordinal)).Skip(2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.TrimEnd().TrimEnd('|').Split('|')[^1].Trim().Trim('`')).Where(n => n != "—").ToArray();
        Assert.Equal(Enum.GetValues<Refusal>().Select(RefusalNames.Name).ToArray(), documented);
    }
}
