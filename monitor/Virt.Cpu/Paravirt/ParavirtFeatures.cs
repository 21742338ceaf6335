namespace Virt.Cpu.Paravirt;

/// <summary>
/// The paravirtual interfaces the CPU offers a guest that looks for them (CPUID 0x40000000 and up,
/// docs/paravirt.md). With none, the guest sees an ordinary i686: the hypervisor bit is clear,
/// the hypervisor leaves return what a leaf beyond the maximum returns, the MSRs #GP and VMCALL
/// is #UD.
/// </summary>
[Flags]
public enum ParavirtFeatures
{
    None = 0,
    /// <summary>KVM's signature at 0x40000100 with <see cref="KvmAbi.FeatureNopIoDelay"/>, and VMCALL as KVM's hypercall.</summary>
    Kvm = 1 << 0,
    /// <summary>kvmclock: MSR_KVM_SYSTEM_TIME_NEW / MSR_KVM_WALL_CLOCK_NEW and the pvclock page (needs <see cref="Kvm"/>).</summary>
    KvmClock = 1 << 1,
    /// <summary>PV EOI: MSR_KVM_PV_EOI_EN (needs <see cref="Kvm"/> and an interrupt controller that implements <see cref="IParavirtEoi"/>).</summary>
    KvmPvEoi = 1 << 2,
    /// <summary>This monitor's own leaves at 0x40000000 and its call table (<see cref="VirtAbi"/>).</summary>
    CallTable = 1 << 3,
    /// <summary>
    /// The interpreter and the native backend run a CALL rel32 to a hot call-table entry (cli, sti,
    /// save_fl, restore_fl, irq_enable_and_halt) as that entry's body at the call site, with no CALL,
    /// RET or stack traffic (VMI's inlining; needs <see cref="CallTable"/>).
    /// </summary>
    InlineHotCalls = 1 << 4,

    /// <summary>Everything: the default of `virt run`.</summary>
    All = Kvm | KvmClock | KvmPvEoi | CallTable | InlineHotCalls,
}
