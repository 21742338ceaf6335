namespace Virt.Cpu.Memory;

/// <summary>What backs one 4 KiB page of guest-physical address space.</summary>
public enum PageKind : byte
{
    /// <summary>Nothing in the engine: accesses leave through IExitHandler.MmioRead/MmioWrite.</summary>
    Mmio = 0,
    Ram = 1,
    /// <summary>Readable; writes are dropped, as on a PC whose shadow RAM is write-protected.</summary>
    Rom = 2,
}
