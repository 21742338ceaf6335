namespace Virt.Cpu.Mmu;

/// <summary>
/// One software-TLB entry: a linear page number and the host address of the guest-physical page
/// it maps to. Only RAM and ROM pages are cached (MMIO always takes the slow path), and the write
/// TLB only caches pages that are writable, already dirty, RAM, and hold no decoded code, so a hit
/// needs no further checks.
/// </summary>
internal struct TlbEntry
{
    public const uint Invalid = 0xFFFF_FFFF;

    public uint Tag;        // linear page number, or Invalid
    public uint PhysPage;   // guest-physical page number
    public nint Host;       // host address of the page's first byte
    public bool Global;     // PTE.G with CR4.PGE: survives CR3 writes
}
