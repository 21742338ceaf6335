namespace Virt.Shared.Routing;

/// <summary>
/// One address space (ports, or MMIO) as a sorted list of non-overlapping ranges, each with its
/// owner: a claim that overlaps an existing range is refused and names the range it met, a lookup
/// is a binary search. Used wherever an access is routed by address (the device bus of a device
/// model, the monitor's routing table), so "who owns this port" has one answer and one code path.
/// Not thread-safe: the owner of the map serialises claims, releases and lookups.
/// </summary>
public sealed class AddressMap<T>
{
    private readonly List<AddressRange<T>> _ranges = new();

    /// <summary>The ranges in address order.</summary>
    public IReadOnlyList<AddressRange<T>> Ranges => _ranges;

    public int Count => _ranges.Count;

    /// <summary>
    /// Adds [start, start + length) for <paramref name="owner"/>, unless it is empty or overlaps a
    /// range already in the map; then returns false and, for an overlap, the first range it meets.
    /// </summary>
    public bool TryClaim(ulong start, ulong length, T owner, out AddressRange<T>? conflict)
    {
        conflict = null;
        if (length == 0) return false;
        var range = new AddressRange<T>(start, length, owner);
        int i = FirstEndingAfter(start);
        if (i < _ranges.Count && _ranges[i].Start < range.End)
        {
            conflict = _ranges[i];
            return false;
        }
        _ranges.Insert(i, range);
        return true;
    }

    /// <summary>Adds a range; throws when it is empty or overlaps one already in the map.</summary>
    public void Claim(ulong start, ulong length, T owner)
    {
        if (TryClaim(start, length, owner, out AddressRange<T>? conflict)) return;
        throw new InvalidOperationException(conflict is { } c
            ? $"0x{start:X}+0x{length:X} overlaps 0x{c.Start:X}-0x{c.End - 1:X} of {c.Owner}"
            : $"0x{start:X}: an empty range cannot be claimed");
    }

    /// <summary>Removes the range that starts exactly at <paramref name="start"/>; false when there is none.</summary>
    public bool Release(ulong start)
    {
        int i = FirstEndingAfter(start);
        if (i >= _ranges.Count || _ranges[i].Start != start) return false;
        _ranges.RemoveAt(i);
        return true;
    }

    /// <summary>Removes every range <paramref name="owner"/> holds; returns how many.</summary>
    public int ReleaseAll(T owner) => _ranges.RemoveAll(r => EqualityComparer<T>.Default.Equals(r.Owner, owner));

    /// <summary>The range that contains <paramref name="address"/>.</summary>
    public bool TryFind(ulong address, out AddressRange<T> range)
    {
        int i = FirstEndingAfter(address);
        if (i < _ranges.Count && _ranges[i].Contains(address))
        {
            range = _ranges[i];
            return true;
        }
        range = default;
        return false;
    }

    /// <summary>The owner of <paramref name="address"/>, or default when nothing claims it.</summary>
    public T? OwnerAt(ulong address) => TryFind(address, out AddressRange<T> r) ? r.Owner : default;

    /// <summary>The index of the first range whose End is above <paramref name="address"/> (ranges are sorted and disjoint, so Ends are sorted too).</summary>
    private int FirstEndingAfter(ulong address)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ranges[mid].End <= address) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
