using System.Runtime.CompilerServices;
using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.Mmu;
using Virt.Cpu.State;

namespace Virt.Cpu;

// The MMU: 32-bit paging (4 KiB and PSE 4 MiB pages, CR0.WP, accessed/dirty bits, U/S and R/W,
// global pages) behind a direct-mapped software TLB. Separate read and write TLBs, each in a
// supervisor and a user copy, so a hit is one compare and one host load or store.
public sealed unsafe partial class Cpu
{
    internal const int TlbBits = 12, TlbSize = 1 << TlbBits, TlbMask = TlbSize - 1;

    // [0] supervisor, [1] user (CPL 3). _tlbR/_tlbW point at the current privilege's pair.
    private readonly TlbEntry[][] _tlbReadSets = new TlbEntry[2][];
    private readonly TlbEntry[][] _tlbWriteSets = new TlbEntry[2][];
    private TlbEntry[] _tlbR = null!, _tlbW = null!;

    /// <summary>Counters for tests and statistics.</summary>
    public long TlbMisses { get; private set; }
    public long PageFaults { get; private set; }

    private void InitTlb()
    {
        for (int i = 0; i < 2; i++)
        {
            // Pinned: native translated code indexes them by address (Cpu.Native.cs).
            _tlbReadSets[i] = GC.AllocateArray<TlbEntry>(TlbSize, pinned: true);
            _tlbWriteSets[i] = GC.AllocateArray<TlbEntry>(TlbSize, pinned: true);
            InvalidateAll(_tlbReadSets[i]);
            InvalidateAll(_tlbWriteSets[i]);
        }
        FlushTlb();
    }

    // The indices filled since the last flush (in any of the four copies): a flush visits only
    // these. A guest with kernel page-table isolation writes CR3 on every kernel entry and exit,
    // and touches a handful of pages in between, so a flush of all 4,096 entries dominated.
    // Indices whose entries a CR3 write kept (global pages: the kernel's, a thousand or so) move
    // to a second list that only a full flush visits, so the next CR3 write does not walk them
    // again (a booting Linux writes CR3 some 16,000 times).
    private readonly int[] _tlbFilledList = new int[TlbSize];
    private readonly int[] _tlbGlobalList = new int[TlbSize];
    private int _tlbFilledCount, _tlbGlobalCount;
    // Per index: OnFilledList and/or OnGlobalList.
    private readonly byte[] _tlbListed = new byte[TlbSize];
    private const byte OnFilledList = 1, OnGlobalList = 2;

    private void NoteTlbFill(int i)
    {
        if ((_tlbListed[i] & OnFilledList) != 0) return;
        _tlbListed[i] |= OnFilledList;
        _tlbFilledList[_tlbFilledCount++] = i;
    }

    private bool PagingEnabled => (Cr0 & ControlBits.CR0_PG) != 0;

    /// <summary>Selects the TLB copies for the current CPL. Called whenever CPL changes.</summary>
    private void SelectTlb()
    {
        int u = Cpl == 3 ? 1 : 0;
        _tlbR = _tlbReadSets[u];
        _tlbW = _tlbWriteSets[u];
    }

    /// <summary>Drops every TLB entry (mode, A20 and mapping changes), and the block jump cache.</summary>
    internal void FlushTlb() => FlushTlbCore(keepGlobal: false);

    // Fully optimized at once: a booting kernel flushes on every CR3 write while the runtime is still
    // compiling new methods, which keeps postponing tier-up (measured: tier-0 code was ~2% of a boot).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FlushTlbCore(bool keepGlobal)
    {
        for (int k = 0; k < _tlbFilledCount; k++)
        {
            int i = _tlbFilledList[k];
            bool global = FlushEntry(_tlbReadSets[0], i, keepGlobal) | FlushEntry(_tlbReadSets[1], i, keepGlobal)
                | FlushEntry(_tlbWriteSets[0], i, keepGlobal) | FlushEntry(_tlbWriteSets[1], i, keepGlobal);
            if (global && (_tlbListed[i] & OnGlobalList) == 0) _tlbGlobalList[_tlbGlobalCount++] = i;
            _tlbListed[i] = global ? OnGlobalList : (byte)(_tlbListed[i] & OnGlobalList);
        }
        _tlbFilledCount = 0;
        if (!keepGlobal)
        {
            for (int k = 0; k < _tlbGlobalCount; k++)
            {
                int i = _tlbGlobalList[k];
                FlushEntry(_tlbReadSets[0], i, false);
                FlushEntry(_tlbReadSets[1], i, false);
                FlushEntry(_tlbWriteSets[0], i, false);
                FlushEntry(_tlbWriteSets[1], i, false);
                _tlbListed[i] = 0;
            }
            _tlbGlobalCount = 0;
        }
        SelectTlb();
        FlushJumpCache(keepGlobal);
    }

    /// <summary>Invalidates entry i of a set unless it is global and kept; true when a valid global entry remains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool FlushEntry(TlbEntry[] set, int i, bool keepGlobal)
    {
        ref TlbEntry e = ref set[i];
        if (e.Tag == TlbEntry.Invalid) return false;
        if (keepGlobal && e.Global) return true;
        e.Tag = TlbEntry.Invalid;
        return false;
    }

    /// <summary>Every entry of a new set invalid (the filled list starts empty, so flushes would not reach them).</summary>
    private static void InvalidateAll(TlbEntry[] set)
    {
        for (int i = 0; i < set.Length; i++) set[i].Tag = TlbEntry.Invalid;
    }

    /// <summary>INVLPG: drops one linear page from every TLB copy.</summary>
    internal void InvalidatePage(uint linear)
    {
        uint lpn = linear >> 12;
        int i = (int)(lpn & TlbMask);
        foreach (var set in _tlbReadSets) if (set[i].Tag == lpn) set[i].Tag = TlbEntry.Invalid;
        foreach (var set in _tlbWriteSets) if (set[i].Tag == lpn) set[i].Tag = TlbEntry.Invalid;
        ForgetJumpCache(keepGlobal: false);
        _jumpTable?.InvalidatePage(lpn); // the native table only if it leads into that page
    }

    /// <summary>A page just became a code page: no write TLB entry may point at it any more.</summary>
    private void ProtectCodePage(uint physPage)
    {
        foreach (var set in _tlbWriteSets)
            for (int i = 0; i < set.Length; i++)
                if (set[i].Tag != TlbEntry.Invalid && set[i].PhysPage == physPage) set[i].Tag = TlbEntry.Invalid;
    }

    /// <summary>
    /// Linear to physical translation with full checks. <paramref name="user"/> is the privilege of
    /// the access (CPL 3 and not an implicit system access). Sets accessed/dirty bits, raises #PF
    /// with CR2 and the error code. The result has the A20 mask applied.
    /// </summary>
    internal uint Translate(uint linear, bool write, bool user, out bool writable, out bool global)
    {
        global = false;
        if (!PagingEnabled)
        {
            writable = true;
            return linear & _mem.A20Mask;
        }
        uint pdeAddr = ((Cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC)) & _mem.A20Mask;
        uint pde = _mem.Read32(pdeAddr);
        if ((pde & 1) == 0) throw PageFault(linear, write, user, present: false);
        uint phys, pteAddr = 0, pte;
        bool big = (pde & 0x80) != 0 && (Cr4 & ControlBits.CR4_PSE) != 0;
        if (big)
        {
            pte = pde;
            phys = (pde & 0xFFC0_0000) | (linear & 0x003F_FFFF);
        }
        else
        {
            pteAddr = ((pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC)) & _mem.A20Mask;
            pte = _mem.Read32(pteAddr);
            if ((pte & 1) == 0) throw PageFault(linear, write, user, present: false);
            phys = (pte & 0xFFFF_F000) | (linear & 0xFFF);
        }
        bool us = (pde & pte & 4) != 0;
        bool rw = (pde & pte & 2) != 0;
        if (user && !us) throw PageFault(linear, write, user, present: true);
        bool wp = (Cr0 & ControlBits.CR0_WP) != 0;
        writable = user ? rw && us : rw || !wp;
        if (write && !writable) throw PageFault(linear, write, user, present: true);
        // Accessed and dirty bits, written back only when they change (the guest may watch them).
        if ((pde & 0x20) == 0 || (big && write && (pde & 0x40) == 0))
            _mem.Write32(pdeAddr, pde | 0x20 | (big && write ? 0x40u : 0));
        if (!big && ((pte & 0x20) == 0 || (write && (pte & 0x40) == 0)))
            _mem.Write32(pteAddr, pte | 0x20 | (write ? 0x40u : 0));
        // A page not yet dirty must not enter the write TLB: the first write has to set D.
        if (!write && (pte & 0x40) == 0) writable = false;
        global = (pte & 0x100) != 0 && (Cr4 & ControlBits.CR4_PGE) != 0;
        return phys & _mem.A20Mask;
    }

    private GuestFault PageFault(uint linear, bool write, bool user, bool present)
    {
        Cr2 = linear;
        PageFaults++;
        return Fault(Vectors.PF, (present ? PageFaultCode.Present : 0) | (write ? PageFaultCode.Write : 0) | (user ? PageFaultCode.User : 0));
    }

    /// <summary>Slow path of every linear access: translate, fill the TLB when the page allows, return the physical address.</summary>
    private uint TlbFill(uint linear, bool write, bool user)
    {
        TlbMisses++;
        uint phys = Translate(linear, write, user, out bool writable, out bool global);
        uint lpn = linear >> 12;
        int i = (int)(lpn & TlbMask);
        var kind = _mem.KindOf(phys);
        // A page a debugger watches (Cpu.Debug.cs) never enters the TLB: its every access comes back here.
        if (kind != PageKind.Mmio && (_watch is null || !_watch.WatchesPage(lpn)))
        {
            NoteTlbFill(i);
            var set = _tlbReadSets[user ? 1 : 0];
            var entry = new TlbEntry(lpn, phys >> 12, _mem.HostPage(phys), global);
            set[i] = entry;
            if (writable && kind == PageKind.Ram && !_mem.IsCodePage(phys))
                _tlbWriteSets[user ? 1 : 0][i] = entry;
        }
        return phys;
    }

    // ---- Linear-address accessors. "user" follows CPL; system accesses (descriptor tables, TSS, IDT) pass user: false. ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte ReadLin8(uint la)
    {
        ref TlbEntry e = ref _tlbR[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12) return *((byte*)e.Host + (la & 0xFFF));
        return (byte)ReadLinSlow(la, 1, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort ReadLin16(uint la)
    {
        ref TlbEntry e = ref _tlbR[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12 && (la & 0xFFF) <= 0xFFE) return *(ushort*)((byte*)e.Host + (la & 0xFFF));
        return (ushort)ReadLinSlow(la, 2, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint ReadLin32(uint la)
    {
        ref TlbEntry e = ref _tlbR[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12 && (la & 0xFFF) <= 0xFFC) return *(uint*)((byte*)e.Host + (la & 0xFFF));
        return (uint)ReadLinSlow(la, 4, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteLin8(uint la, byte v)
    {
        ref TlbEntry e = ref _tlbW[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12) { *((byte*)e.Host + (la & 0xFFF)) = v; return; }
        WriteLinSlow(la, 1, v, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteLin16(uint la, ushort v)
    {
        ref TlbEntry e = ref _tlbW[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12 && (la & 0xFFF) <= 0xFFE) { *(ushort*)((byte*)e.Host + (la & 0xFFF)) = v; return; }
        WriteLinSlow(la, 2, v, Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteLin32(uint la, uint v)
    {
        ref TlbEntry e = ref _tlbW[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12 && (la & 0xFFF) <= 0xFFC) { *(uint*)((byte*)e.Host + (la & 0xFFF)) = v; return; }
        WriteLinSlow(la, 4, v, Cpl == 3);
    }

    internal ulong ReadLinSlow(uint la, int size, bool user)
    {
        _watch?.Accessed(la, size, write: false);
        if ((la & 0xFFF) + (uint)size > 0x1000)
        {
            // Crosses a page: translate both pages before reading anything.
            uint p0 = TlbFill(la, false, user);
            uint p1 = TlbFill((la | 0xFFF) + 1, false, user);
            int first = (int)(0x1000 - (la & 0xFFF));
            ulong v = 0;
            for (int i = 0; i < size; i++)
                v |= (ulong)_mem.Read8(i < first ? p0 + (uint)i : p1 + (uint)(i - first)) << (8 * i);
            return v;
        }
        uint phys = TlbFill(la, false, user);
        // MMIO the guest firmware claimed is reflected to it, and a handler's own MMIO access is a nested exit (Cpu.Firmware.cs).
        ulong mmio = 0;
        if ((_fwMmio.Count != 0 || _inFirmware) && _mem.KindOf(phys) == PageKind.Mmio && FirmwareMmio(phys, size, write: false, ref mmio)) return mmio;
        return _mem.ReadN(phys, size);
    }

    internal void WriteLinSlow(uint la, int size, ulong v, bool user)
    {
        _watch?.Accessed(la, size, write: true);
        if ((la & 0xFFF) + (uint)size > 0x1000)
        {
            uint p0 = TlbFill(la, true, user);
            uint p1 = TlbFill((la | 0xFFF) + 1, true, user);
            int first = (int)(0x1000 - (la & 0xFFF));
            for (int i = 0; i < size; i++)
                WritePhysical(i < first ? p0 + (uint)i : p1 + (uint)(i - first), 1, (byte)(v >> (8 * i)));
            return;
        }
        uint phys = TlbFill(la, true, user);
        if ((_fwMmio.Count != 0 || _inFirmware) && _mem.KindOf(phys) == PageKind.Mmio && FirmwareMmio(phys, size, write: true, ref v)) return;
        WritePhysical(phys, size, v);
    }

    // System (supervisor, implicit) accesses: descriptor tables, the TSS, the IDT.
    internal uint ReadSys32(uint la) => (uint)ReadLinSlow(la, 4, false);
    internal ushort ReadSys16(uint la) => (ushort)ReadLinSlow(la, 2, false);
    internal byte ReadSys8(uint la) => (byte)ReadLinSlow(la, 1, false);
    internal void WriteSys32(uint la, uint v) => WriteLinSlow(la, 4, v, false);
    internal void WriteSys16(uint la, ushort v) => WriteLinSlow(la, 2, v, false);
    internal void WriteSys8(uint la, byte v) => WriteLinSlow(la, 1, v, false);
    internal ulong ReadSys64(uint la) => ReadLinSlow(la, 4, false) | (ReadLinSlow(la + 4, 4, false) << 32);
}
