namespace Virt.Monitor.Transport;

/// <summary>
/// Several device models drive the same 16 ISA lines: a line is high while any of them holds it
/// high (wired OR, as open-collector ISA IRQ sharing). Each source's levels are kept so a detached
/// device model's lines drop without touching the others'.
/// </summary>
public sealed class IrqLineMux(Action<int, bool> setLine)
{
    private readonly Dictionary<uint, uint> _levels = new();
    private uint _combined;

    public void Set(uint source, int line, bool high)
    {
        lock (_levels)
        {
            uint bit = 1u << line;
            _levels.TryGetValue(source, out uint mine);
            mine = high ? mine | bit : mine & ~bit;
            _levels[source] = mine;
            // An edge from one source is passed on as is (lower-raise pairs from IrqLineInput), even if another holds the line.
            if (high || !AnyOtherHolds(source, bit)) setLine(line, high);
            Recombine();
        }
    }

    /// <summary>Drops a source: the lines only it held go low.</summary>
    public void Remove(uint source)
    {
        lock (_levels)
        {
            if (!_levels.Remove(source, out uint mine)) return;
            for (int line = 0; line < 16; line++)
            {
                uint bit = 1u << line;
                if ((mine & bit) != 0 && !AnyOtherHolds(source, bit)) setLine(line, false);
            }
            Recombine();
        }
    }

    private bool AnyOtherHolds(uint source, uint bit)
    {
        foreach (var (s, levels) in _levels)
            if (s != source && (levels & bit) != 0) return true;
        return false;
    }

    private void Recombine()
    {
        _combined = 0;
        foreach (uint l in _levels.Values) _combined |= l;
    }

    public uint Combined
    {
        get { lock (_levels) return _combined; }
    }
}
