namespace Virt.Cpu.Firmware;

/// <summary>
/// The layout of the guest firmware's region and of what the monitor and a firmware handler exchange
/// when an access to a claimed range is reflected (docs/firmware-reflection.md gives every byte).
/// The region is guest RAM the e820 map reserves; all offsets are from its base, a 4 KiB boundary.
/// </summary>
public static class FirmwareAbi
{
    /// <summary>The save area (as SMM's state-save map): the guest's state at the access, written by the monitor, read-only by contract.</summary>
    public const uint SaveArea = 0x0000;

    /// <summary>The request block: what was accessed, and the completion the handler writes before RSM.</summary>
    public const uint RequestBlock = 0x0100;

    /// <summary>The monitor's call table for the firmware (CallTableStubs.Table(), written at load).</summary>
    public const uint CallTable = 0x1000;

    /// <summary>The data of a string access (OUTS: the guest's elements; INS: the handler writes them).</summary>
    public const uint DataBuffer = 0x2000, DataBufferSize = 0x1000;

    /// <summary>The firmware image: its first byte is the handler's entry point.</summary>
    public const uint Image = 0x3000;

    /// <summary>The smallest region: the fixed pages, one page of image and one of stack (the stack's top is the region's end).</summary>
    public const uint MinimumSize = 0x5000;

    /// <summary>Revision of this layout, in the save area (as SMM's revision identifier).</summary>
    public const uint Revision = 1;

    /// <summary>Instructions a handler may run for one access before it counts as looping.</summary>
    public const long DefaultInstructionBudget = 1_000_000;

    // ---- Save area offsets ----
    public const int SaveRegisters = 0x00;      // EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (u32 each)
    public const int SaveEip = 0x20, SaveEflags = 0x24, SaveCr0 = 0x28, SaveCr3 = 0x2C, SaveCr4 = 0x30, SaveCr2 = 0x34;
    public const int SaveDr7 = 0x38, SaveDr6 = 0x3C;
    public const int SaveSegments = 0x40;       // ES, CS, SS, DS, FS, GS: u16 selector, u16 attributes, u32 base, u32 limit
    public const int SegmentRecordSize = 12;
    public const int SaveLdtr = 0x88, SaveTr = 0x94;
    public const int SaveGdtrBase = 0xA0, SaveGdtrLimit = 0xA4, SaveIdtrLimit = 0xA6, SaveIdtrBase = 0xA8;
    public const int SaveCpl = 0xAC, SaveShadow = 0xAD, SaveNmiBlocked = 0xAE;
    public const int SaveInstructionLength = 0xB0, SaveRevision = 0xB4;
    public const int SaveAreaSize = 0xB8;

    // ---- Request block offsets ----
    public const int RequestKind = 0x00, RequestTarget = 0x04, RequestSize = 0x08, RequestFlags = 0x0C;
    public const int RequestCount = 0x10, RequestLinear = 0x14, RequestSegment = 0x18;
    public const int RequestData = 0x20;        // u64: OUT / MMIO write value; IN / MMIO read: the handler's answer
    public const int RequestBuffer = 0x28, RequestStatus = 0x2C;
    public const int RequestBlockSize = 0x30;

    // ---- Request kinds (also in EAX at entry) ----
    public const uint KindPortIn = 1, KindPortOut = 2, KindMmioRead = 3, KindMmioWrite = 4;

    // ---- Request flags ----
    public const uint FlagString = 1u << 0, FlagRep = 1u << 1, FlagDirectionDown = 1u << 2, FlagAddress16 = 1u << 3;

    // ---- Status: the monitor writes Pending, the handler writes Completed before RSM ----
    public const uint StatusPending = 0, StatusCompleted = 1;
}
