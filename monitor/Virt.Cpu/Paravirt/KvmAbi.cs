namespace Virt.Cpu.Paravirt;

/// <summary>
/// The subset of KVM's paravirtual ABI this CPU implements, with KVM's numbers (Linux's
/// Documentation/virt/kvm/x86/cpuid.rst, msr.rst and hypercalls.rst, arch/x86/include/uapi/asm/kvm_para.h).
/// </summary>
public static class KvmAbi
{
    /// <summary>
    /// Where KVM's leaves start. Linux's kvm_cpuid_base() scans 0x40000000 and every 0x100 above it
    /// for the signature, so this monitor's own leaves keep 0x40000000 (as KVM keeps Hyper-V's there
    /// and its own at 0x40000100).
    /// </summary>
    public const uint CpuidBase = 0x4000_0100;
    public const uint CpuidSignature = CpuidBase, CpuidFeatures = CpuidBase + 1;

    /// <summary>"KVMKVMKVM\0\0\0" in EBX, ECX, EDX.</summary>
    public const uint SignatureEbx = 0x4B4D_564B, SignatureEcx = 0x564B_4D56, SignatureEdx = 0x0000_004D;

    // CPUID 0x40000101 EAX bits (kvm_para.h).
    public const uint FeatureClocksource = 1u << 0;
    public const uint FeatureNopIoDelay = 1u << 1;
    public const uint FeatureClocksource2 = 1u << 3;
    public const uint FeaturePvEoi = 1u << 6;
    public const uint FeatureClocksourceStableBit = 1u << 24;

    // MSRs (msr.rst).
    public const uint MsrWallClockNew = 0x4B56_4D00;
    public const uint MsrSystemTimeNew = 0x4B56_4D01;
    public const uint MsrPvEoiEnable = 0x4B56_4D04;

    /// <summary>Bit 0 of MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_PV_EOI_EN: enabled.</summary>
    public const ulong MsrEnabled = 1;

    /// <summary>Bit 0 of the PV EOI word: the guest may skip the EOI write (KVM_PV_EOI_ENABLED).</summary>
    public const uint PvEoiPending = 1;

    // pvclock_vcpu_time_info (arch/x86/include/asm/pvclock-abi.h): 32 bytes.
    public const int PvtiVersion = 0, PvtiTscTimestamp = 8, PvtiSystemTime = 16, PvtiMul = 24, PvtiShift = 28, PvtiFlags = 29, PvtiSize = 32;
    /// <summary>PVCLOCK_TSC_STABLE_BIT: every VCPU's pvclock agrees, the guest needs no monotonic guard.</summary>
    public const byte PvclockTscStable = 1 << 0;

    // pvclock_wall_clock: version, sec, nsec (12 bytes).
    public const int WallVersion = 0, WallSec = 4, WallNsec = 8, WallSize = 12;

    // Hypercalls (hypercalls.rst): number in EAX, arguments in EBX, ECX, EDX, ESI, result in EAX.
    public const uint HcVapicPollIrq = 1;
    /// <summary>-KVM_ENOSYS: an unknown hypercall.</summary>
    public const uint ErrorNoSys = unchecked((uint)-1000);
    /// <summary>-KVM_EPERM: a hypercall from CPL &gt; 0.</summary>
    public const uint ErrorPerm = unchecked((uint)-1);
}
