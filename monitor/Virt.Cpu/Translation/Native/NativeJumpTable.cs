using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// Where native code goes on an indirect branch (RET, JMP/CALL through a register) or a direct one
/// that leaves its page: a direct-mapped table from the target EIP to a native block's chain entry,
/// looked up inline (QEMU's tb_jmp_cache, DynamoRIO's indirect branch lookup). 65,536 entries
/// indexed by the EIP's low 16 bits, so the index is one flagless MOVZX. Each entry holds the
/// negated key, EIP | generation &lt;&lt; 32 | user &lt;&lt; 57, so two LEAs (tag + EIP + key) give
/// zero exactly on a hit and JRCXZ tests it without touching the guest's flags. The user bit keeps
/// the entries added at CPL 3 apart from the others: user code never reaches a supervisor block
/// through the table (the fetch's U/S check is the dispatcher's), and a privilege change (an
/// interrupt, SYSENTER, SYSEXIT, IRET) needs no flush. Filled as blocks run; emptied whenever a
/// mapping or code changes (TLB flushes, a code page written, the code cache flushed) by moving to
/// the next generation, which costs nothing; an INVLPG empties it only if the page holds code the
/// table leads to. A CR3 write with global pages on (a guest with kernel page-table isolation writes
/// CR3 on every kernel entry) drops only the entries for code in non-global pages, as the TLB does,
/// so the kernel's stay.
/// </summary>
internal sealed unsafe class NativeJumpTable : IDisposable
{
    public const int Entries = 1 << 16;
    /// <summary>An empty entry's tag: no key (EIP and a generation below 2^24) added to it gives zero.</summary>
    private const long Empty = 1L << 60;

    [StructLayout(LayoutKind.Sequential)]
    private struct Entry
    {
        public long NegatedEip;
        public nint ChainEntry;
    }

    private readonly Entry* _entries;
    private long _generation = 1;

    public NativeJumpTable()
    {
        _entries = (Entry*)NativeMemory.AlignedAlloc((nuint)(Entries * sizeof(Entry)), 64);
        for (int i = 0; i < Entries; i++) _entries[i] = new Entry { NegatedEip = Empty };
        IsEmpty = true;
    }

    public nint Address => (nint)_entries;

    public bool IsEmpty { get; private set; }

    private const long UserBit = 1L << 57;

    /// <summary>What the lookup adds to the EIP at this privilege (NativeFrame.JumpGeneration): the generation, and the user bit at CPL 3.</summary>
    public long KeyFor(bool user) => (_generation << 32) | (user ? UserBit : 0);

    // Entries for code in pages not mapped global, since the last clear: a CR3 write drops just these.
    private readonly List<int> _notGlobal = new();
    // The linear pages of the entries since the last clear: an INVLPG of another page changes nothing here.
    private readonly HashSet<uint> _pages = new();

    /// <param name="lastPage">The linear page the block's code ends in (another than EIP's for an instruction across a page end).</param>
    public void Add(uint eip, byte* chainEntry, bool global, bool user, uint lastPage)
    {
        int i = (int)(eip & (Entries - 1));
        ref Entry e = ref _entries[i];
        long negated = -((long)eip | KeyFor(user));
        // The dispatcher adds the block it enters on every entry: one already there is the common case,
        // and must not grow the lists a CR3 write or an INVLPG walks.
        if (e.NegatedEip == negated && e.ChainEntry == (nint)chainEntry) return;
        e.NegatedEip = negated;
        e.ChainEntry = (nint)chainEntry;
        IsEmpty = false;
        if (!global) _notGlobal.Add(i);
        _pages.Add(eip >> 12);
        if (lastPage != eip >> 12) _pages.Add(lastPage);
    }

    /// <summary>INVLPG of <paramref name="linearPage"/>: empties the table if an entry leads into that page.</summary>
    public void InvalidatePage(uint linearPage)
    {
        if (_pages.Contains(linearPage)) Clear();
    }

    /// <summary>A CR3 write with global pages on: drops the entries for code in non-global pages.</summary>
    public void ClearNotGlobal()
    {
        if (_notGlobal.Count > Entries / 4) { Clear(); return; } // cheaper to start a new generation
        foreach (int i in _notGlobal) _entries[i].NegatedEip = Empty;
        _notGlobal.Clear();
    }

    public void Clear()
    {
        if (IsEmpty) return;
        IsEmpty = true;
        _notGlobal.Clear();
        _pages.Clear();
        if (++_generation < 1 << 24) return;
        // Wrapped (after 16 million flushes): old entries could match again, so really empty it.
        for (int i = 0; i < Entries; i++) _entries[i] = new Entry { NegatedEip = Empty };
        _generation = 1;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_entries);
        GC.SuppressFinalize(this);
    }

    // The CPU that owns the table has no Dispose of its own: the memory goes when it is collected.
    ~NativeJumpTable() => NativeMemory.AlignedFree(_entries);
}
