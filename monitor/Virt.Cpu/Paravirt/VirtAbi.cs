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
}
