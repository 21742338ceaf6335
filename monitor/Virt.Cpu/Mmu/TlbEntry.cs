using System.Runtime.InteropServices;

namespace Virt.Cpu.Mmu;

/// <summary>
/// One software-TLB entry: a linear page number and the host address of the guest-physical page
/// it maps to. Only RAM and ROM pages are cached (MMIO always takes the slow path), and the write
/// TLB only caches pages that are writable, already dirty, RAM, and hold no decoded code, so a hit
/// needs no further checks. 32 bytes, so native code indexes the arrays with a shift and a mask
/// (<see cref="Translation.Native.NativeBlockCompiler"/> relies on this layout).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct TlbEntry
{
    public const uint Invalid = 0xFFFF_FFFF;

    [FieldOffset(0)] public uint Tag;        // linear page number, or Invalid
    [FieldOffset(4)] public uint PhysPage;   // guest-physical page number
    [FieldOffset(8)] public nint Host;       // host address of the page's first byte
    [FieldOffset(16)] public nint Addend;    // Host minus the linear page's address: host = linear + Addend (QEMU's addend)
    [FieldOffset(24)] public bool Global;    // PTE.G with CR4.PGE: survives CR3 writes

    public TlbEntry(uint linearPage, uint physPage, nint host, bool global)
    {
        Tag = linearPage;
        PhysPage = physPage;
        Host = host;
        Addend = host - (nint)((ulong)linearPage << 12);
        Global = global;
    }
}
