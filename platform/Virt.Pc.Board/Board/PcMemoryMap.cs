namespace Virt.Pc.Board;

/// <summary>
/// Where things sit in the PC's 32-bit guest-physical address space (Firecracker keeps the same
/// list in arch/x86_64/layout.rs). The loaders, the BIOS tables and the interrupt controllers all
/// take their addresses from here.
/// </summary>
public static class PcMemoryMap
{
    /// <summary>The real-mode interrupt vector table: 256 far pointers.</summary>
    public const uint InterruptVectorTable = 0x0000;

    /// <summary>The BIOS data area (COM port bases, equipment word, base memory size).</summary>
    public const uint BiosDataArea = 0x0400;

    /// <summary>Where an extended BIOS data area would start (the top KiB of base memory): loaders keep below it.</summary>
    public const uint ExtendedBiosDataArea = 0x9_FC00;

    /// <summary>The end of base memory (640 KiB): VGA memory, option ROMs and the BIOS lie above, up to 1 MiB.</summary>
    public const uint BaseMemoryEnd = 0xA_0000;

    /// <summary>The BIOS segment F000: the MP floating pointer and the IRET stub live here.</summary>
    public const uint BiosSegment = 0xF_0000;

    /// <summary>
    /// The guest firmware's region (docs/firmware-reflection.md): 64 KiB of RAM in the BIOS area, inside
    /// the e820 map's reserved range below 1 MiB, so no guest OS takes it whatever the RAM size.
    /// </summary>
    public const uint GuestFirmwareBase = 0xE_0000, GuestFirmwareSize = 0x1_0000;

    /// <summary>1 MiB: the start of extended memory, where protected-mode kernels are loaded.</summary>
    public const uint HighMemoryStart = 0x10_0000;

    /// <summary>The I/O APIC's register window.</summary>
    public const uint IoApicBase = 0xFEC0_0000;

    /// <summary>The local APIC's register window (xAPIC).</summary>
    public const uint LocalApicBase = 0xFEE0_0000;

    /// <summary>The size of each APIC's register window.</summary>
    public const uint ApicWindowSize = 0x1000;

    /// <summary>The end of the 32-bit physical address space (4 GiB): firmware ROM ends here.</summary>
    public const ulong AddressSpaceEnd = 0x1_0000_0000;

    /// <summary>Base memory in KiB, as the BIOS data area and the Multiboot information report it.</summary>
    public const ushort BaseMemoryKiB = (ushort)(BaseMemoryEnd / 1024);
}
