using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Virt.Cpu.Exits;

namespace Virt.Cpu.Memory;

/// <summary>
/// Guest-physical address space (32 address bits): RAM, ROM and MMIO pages, and the A20 gate.
/// Every 4 KiB page has a host pointer (RAM, ROM) or none (MMIO, which leaves through the exit
/// handler). The MMU's TLB caches these pointers; this class is the slow path and the loaders' way in.
/// </summary>
public sealed unsafe class PhysicalMemory : IDisposable
{
    public const int PageShift = 12;
    public const uint PageSize = 1u << PageShift;
    private const int PageCount = 1 << (32 - PageShift);

    /// <summary>The PC hole for legacy VGA memory: not RAM even when RAM covers it.</summary>
    public const uint VgaHoleStart = 0xA0000, VgaHoleEnd = 0xC0000;

    private readonly nint[] _host = new nint[PageCount];
    private readonly PageKind[] _kind = new PageKind[PageCount];
    private readonly byte[] _code = new byte[PageCount];
    private readonly List<nint> _romBlocks = new();
    private bool _a20 = true;

    public PhysicalMemory(GuestRam ram)
    {
        Ram = ram;
        uint pages = (uint)(ram.Size >> PageShift);
        for (uint p = 0; p < pages; p++)
        {
            uint addr = p << PageShift;
            if (addr >= VgaHoleStart && addr < VgaHoleEnd) continue;
            _host[p] = (nint)(ram.Base + addr);
            _kind[p] = PageKind.Ram;
        }
    }

    public GuestRam Ram { get; }

    /// <summary>Where MMIO accesses go. Set by the host before the guest runs.</summary>
    public IExitHandler? ExitHandler { get; set; }

    /// <summary>Raised when the A20 gate or a page's mapping changes, so MMUs flush their TLBs.</summary>
    public event Action? MappingChanged;

    /// <summary>
    /// Raised when a page that holds decoded code is written through this object or the TLB slow
    /// path, with the physical page number. The engine drops the decoded blocks of that page.
    /// </summary>
    public event Action<uint>? CodePageWritten;

    /// <summary>The A20 gate. Off: bit 20 of every physical address is forced to 0 (8086 wrap-around).</summary>
    public bool A20Enabled
    {
        get => _a20;
        set { if (_a20 != value) { _a20 = value; MappingChanged?.Invoke(); } }
    }

    public uint A20Mask => _a20 ? 0xFFFF_FFFFu : 0xFFEF_FFFFu;

    public PageKind KindOf(uint address) => _kind[address >> PageShift];

    /// <summary>Host pointer to the start of the page holding address, or 0 for MMIO pages.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint HostPage(uint address) => _host[address >> PageShift];

    /// <summary>True when the page holds decoded code: writes to it must go through <see cref="NotifyWrite"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCodePage(uint address) => _code[address >> PageShift] != 0;

    public void MarkCodePage(uint address) => _code[address >> PageShift] = 1;

    /// <summary>Called on a write to a code page (by the TLB slow path or the loaders): drops its blocks.</summary>
    public void NotifyWrite(uint address)
    {
        uint page = address >> PageShift;
        if (_code[page] == 0) return;
        _code[page] = 0;
        CodePageWritten?.Invoke(page);
    }

    /// <summary>
    /// Maps a ROM image at <paramref name="address"/> (page aligned). The bytes are copied; the
    /// guest can read but not write them. Used for a BIOS at the top of 4 GiB and its alias below 1 MiB.
    /// </summary>
    public void MapRom(uint address, ReadOnlySpan<byte> image)
    {
        if ((address & (PageSize - 1)) != 0) throw new ArgumentException("ROM must start on a page boundary", nameof(address));
        uint size = ((uint)image.Length + PageSize - 1) & ~(PageSize - 1);
        if (size == 0 || (ulong)address + size > 0x1_0000_0000UL) throw new ArgumentException("ROM does not fit below 4 GiB", nameof(image));
        byte* block = (byte*)NativeMemory.AllocZeroed(size);
        _romBlocks.Add((nint)block);
        image.CopyTo(new Span<byte>(block, image.Length));
        for (uint off = 0; off < size; off += PageSize)
        {
            uint p = (address + off) >> PageShift;
            _host[p] = (nint)(block + off);
            _kind[p] = PageKind.Rom;
        }
        MappingChanged?.Invoke();
    }

    /// <summary>
    /// Maps guest RAM back over a range the constructor left unmapped (the VGA hole), for machines
    /// with nothing there: CPU test vectors expect plain memory at every address below 16 MiB.
    /// </summary>
    public void MapRam(uint address, uint length)
    {
        for (ulong a = address & ~(PageSize - 1); a < (ulong)address + length && a < (ulong)Ram.Size; a += PageSize)
        {
            _host[a >> PageShift] = (nint)(Ram.Base + a);
            _kind[a >> PageShift] = PageKind.Ram;
        }
        MappingChanged?.Invoke();
    }

    /// <summary>Turns a range into MMIO (leaves through the exit handler), e.g. the local APIC page.</summary>
    public void MapMmio(uint address, uint length)
    {
        for (ulong a = address & ~(PageSize - 1); a < (ulong)address + length; a += PageSize)
        {
            _host[a >> PageShift] = 0;
            _kind[a >> PageShift] = PageKind.Mmio;
        }
        MappingChanged?.Invoke();
    }

    /// <summary>
    /// Makes RAM pages read-only to the guest while they keep their memory: reads see it, writes are
    /// dropped as writes to ROM are. The guest firmware's region (Cpu.Firmware.cs), which only its
    /// handler writes, through <see cref="WriteProtected"/>.
    /// </summary>
    public void ProtectRam(uint address, uint length)
    {
        for (ulong a = address & ~(PageSize - 1); a < (ulong)address + length; a += PageSize)
            if (_kind[a >> PageShift] == PageKind.Ram) _kind[a >> PageShift] = PageKind.Rom;
        MappingChanged?.Invoke();
    }

    /// <summary>A write to RAM or ROM alike (a protected page's owner); MMIO is not touched.</summary>
    public void WriteProtected(uint a, int size, ulong v)
    {
        for (int i = 0; i < size; i++)
        {
            uint at = a + (uint)i;
            nint h = _host[at >> PageShift];
            if (h == 0) continue;
            if (_code[at >> PageShift] != 0) NotifyWrite(at);
            ((byte*)h)[at & (PageSize - 1)] = (byte)(v >> (8 * i));
        }
    }

    // ---- Slow-path accessors (MMIO, ROM, page-crossing, loaders). The A20 mask is applied by the caller (MMU). ----

    public byte Read8(uint a)
    {
        nint h = _host[a >> PageShift];
        return h != 0 ? ((byte*)h)[a & (PageSize - 1)] : (byte)Mmio(a, 1);
    }

    public ushort Read16(uint a) => (ushort)ReadN(a, 2);
    public uint Read32(uint a) => (uint)ReadN(a, 4);
    public ulong Read64(uint a) => ReadN(a, 8);

    public void Write8(uint a, byte v) => WriteN(a, 1, v);
    public void Write16(uint a, ushort v) => WriteN(a, 2, v);
    public void Write32(uint a, uint v) => WriteN(a, 4, v);
    public void Write64(uint a, ulong v) => WriteN(a, 8, v);

    public ulong ReadN(uint a, int size)
    {
        nint h = _host[a >> PageShift];
        uint off = a & (PageSize - 1);
        if (off + (uint)size <= PageSize)
        {
            if (h != 0)
            {
                byte* p = (byte*)h + off;
                return size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            }
            return Mmio(a, size);
        }
        ulong v = 0;
        for (int i = 0; i < size; i++) v |= (ulong)Read8(a + (uint)i) << (8 * i);
        return v;
    }

    public void WriteN(uint a, int size, ulong v)
    {
        uint off = a & (PageSize - 1);
        if (off + (uint)size > PageSize)
        {
            for (int i = 0; i < size; i++) WriteN(a + (uint)i, 1, (byte)(v >> (8 * i)));
            return;
        }
        uint page = a >> PageShift;
        switch (_kind[page])
        {
            case PageKind.Ram:
                if (_code[page] != 0) NotifyWrite(a);
                byte* p = (byte*)_host[page] + off;
                switch (size) { case 1: *p = (byte)v; break; case 2: *(ushort*)p = (ushort)v; break; case 4: *(uint*)p = (uint)v; break; default: *(ulong*)p = v; break; }
                break;
            case PageKind.Rom:
                break; // writes to ROM are dropped
            default:
                (ExitHandler ?? throw new InvalidOperationException("MMIO write with no exit handler")).MmioWrite(a, size, v);
                break;
        }
    }

    private ulong Mmio(uint a, int size) =>
        (ExitHandler ?? throw new InvalidOperationException("MMIO read with no exit handler")).MmioRead(a, size);

    /// <summary>Copies bytes into guest-physical memory (loaders). RAM and ROM are both writable here.</summary>
    public void Load(uint address, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length;)
        {
            uint a = address + (uint)i;
            nint h = _host[a >> PageShift];
            if (h == 0) throw new ArgumentException($"cannot load at 0x{a:X8}: not RAM or ROM");
            int off = (int)(a & (PageSize - 1));
            int n = Math.Min(data.Length - i, (int)PageSize - off);
            data.Slice(i, n).CopyTo(new Span<byte>((byte*)h + off, n));
            NotifyWrite(a);
            i += n;
        }
    }

    /// <summary>Copies guest-physical bytes out (tests, device emulation).</summary>
    public void Read(uint address, Span<byte> into)
    {
        for (int i = 0; i < into.Length; i++) into[i] = Read8(address + (uint)i);
    }

    public void Dispose()
    {
        foreach (nint b in _romBlocks) NativeMemory.Free((void*)b);
        _romBlocks.Clear();
    }
}
