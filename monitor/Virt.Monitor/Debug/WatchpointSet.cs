using Virt.Cpu.Debugging;

namespace Virt.Monitor.Debug;

/// <summary>
/// The debugger's watchpoints on linear ranges. As the CPU's <see cref="ILinearWatch"/> it keeps
/// the watched pages out of the TLB and hears of every data access to them; an access that overlaps
/// a range of the right kind is remembered as the hit, which the stepping loop turns into a stop
/// after the instruction (a trap, as x86 data breakpoints are). Accesses to other bytes of a
/// watched page cost a TLB miss and nothing else.
/// </summary>
public sealed class WatchpointSet : ILinearWatch
{
    public const int MaxWatchpoints = 32;
    public const uint MaxLength = 4096;

    private readonly record struct Range(uint Start, uint Length, WatchKind Kind);

    private readonly List<Range> _ranges = new();
    private readonly Dictionary<uint, int> _pages = new(); // linear page -> ranges touching it
    private (WatchKind Kind, uint Address)? _hit;

    public int Count => _ranges.Count;

    /// <summary>False when full or the range is empty, too long, or wraps past 4 GiB.</summary>
    public bool Add(uint start, uint length, WatchKind kind)
    {
        if (length == 0 || length > MaxLength || start + (ulong)length > 0x1_0000_0000UL) return false;
        if (_ranges.Contains(new Range(start, length, kind))) return true;
        if (_ranges.Count >= MaxWatchpoints) return false;
        _ranges.Add(new Range(start, length, kind));
        foreach (uint p in Pages(start, length)) _pages[p] = _pages.GetValueOrDefault(p) + 1;
        return true;
    }

    /// <summary>Removing a watchpoint that is not there succeeds (gdb may remove twice).</summary>
    public void Remove(uint start, uint length, WatchKind kind)
    {
        if (!_ranges.Remove(new Range(start, length, kind))) return;
        foreach (uint p in Pages(start, length))
            if (--_pages[p] == 0) _pages.Remove(p);
    }

    public void Clear()
    {
        _ranges.Clear();
        _pages.Clear();
        _hit = null;
    }

    private static IEnumerable<uint> Pages(uint start, uint length)
    {
        for (ulong p = start >> 12; p <= (start + (ulong)length - 1) >> 12; p++) yield return (uint)p;
    }

    public bool WatchesPage(uint linearPage) => _pages.ContainsKey(linearPage);

    public void Accessed(uint linear, int size, bool write)
    {
        if (_hit is not null) return; // the first access of the instruction is the one reported
        ulong end = linear + (ulong)(uint)size;
        foreach (Range r in _ranges)
        {
            if (linear >= r.Start + (ulong)r.Length || end <= r.Start) continue;
            bool stops = r.Kind switch { WatchKind.Write => write, WatchKind.Read => !write, _ => true };
            if (!stops) continue;
            _hit = (r.Kind, Math.Max(linear, r.Start));
            return;
        }
    }

    /// <summary>The hit since the last call, if any, and forgets it.</summary>
    public (WatchKind Kind, uint Address)? TakeHit()
    {
        var h = _hit;
        _hit = null;
        return h;
    }
}
