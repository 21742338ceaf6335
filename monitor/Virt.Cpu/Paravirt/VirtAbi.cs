namespace Virt.Cpu.Paravirt;

/// <summary>
/// This monitor's own paravirtual interface (docs/paravirt.md): its CPUID leaves at 0x40000000 and
/// the MSR through which a guest places the call table.
/// </summary>
public static class VirtAbi
{
    public const uint CpuidSignature = 0x4000_0000, CpuidInterface = 0x4000_0001;
    public const uint MaxLeaf = CpuidInterface;

    /// <summary>"VirtParavirt" in EBX, ECX, EDX.</summary>
    public const uint SignatureEbx = 0x7472_6956, SignatureEcx = 0x6172_6150, SignatureEdx = 0x7472_6976;

    /// <summary>CPUID 0x40000001 EAX: the interface version.</summary>
    public const uint InterfaceVersion = 1;

    /// <summary>CPUID 0x40000001 EBX bit 0: the call table (placed through <see cref="MsrCallTable"/>).</summary>
    public const uint FeatureCallTable = 1u << 0;

    /// <summary>
    /// The MSR that places the call table: bit 0 enables, bits 31:12 name the guest-physical page.
    /// In the range the SDM reserves for software (0x40000000-0x400000FF, never used by hardware),
    /// as Hyper-V's hypercall MSR is; CPUID 0x40000001 ECX repeats it so a guest need not hard-code it.
    /// </summary>
    public const uint MsrCallTable = 0x4000_00F0;

    /// <summary>Bytes per entry (VMI's and Xen's hypercall page's stub size) and entries in the table.</summary>
    public const int EntrySize = 32, Entries = 12;

    /// <summary>EAX of a VMCALL for entry n is CallBase + n ("VT" in the high half: never a KVM hypercall number).</summary>
    public const uint CallBase = 0x5654_0000;

    /// <summary>Longest buffer one console write takes, and most port writes one batch takes.</summary>
    public const uint MaxConsoleBytes = 4096, MaxPortWrites = 256;

    /// <summary>One port write of a batch: u16 port, u8 size (1, 2 or 4), u8 reserved (0), u32 value.</summary>
    public const int PortWriteSize = 8;

    /// <summary>flush_tlb's argument that means every entry, global ones too.</summary>
    public const uint FlushAll = 0xFFFF_FFFF;

    // Results in EAX: Linux's errno values, negated (as KVM's hypercalls return them).
    public const uint Ok = 0;
    public const uint ErrorPerm = unchecked((uint)-1);
    public const uint ErrorFault = unchecked((uint)-14);
    public const uint ErrorInvalid = unchecked((uint)-22);
    public const uint ErrorNoSys = unchecked((uint)-38);

    public static bool IsCall(uint eax) => (eax & 0xFFFF_0000) == CallBase;
}
