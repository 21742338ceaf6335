using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using P = Virt.Cpu.Tests.Paravirt.ParavirtGuest;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// Discovery as guests do it (docs/paravirt.md): the hypervisor bit, this monitor's leaves at
/// 0x40000000, KVM's at 0x40000100 where Linux's kvm_cpuid_base() finds them, the MSRs each feature
/// adds, and #GP / #UD for everything a CPU without them would refuse.
/// </summary>
public sealed class ParavirtDiscoveryTests
{
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void With_the_interfaces_on_CPUID_names_both_hypervisors_and_their_features(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.All, a =>
        {
            P.Cpuid(a, 1, P.Out);
            P.Cpuid(a, VirtAbi.CpuidSignature, P.Out + 0x10);
            P.Cpuid(a, VirtAbi.CpuidInterface, P.Out + 0x20);
            P.Cpuid(a, KvmAbi.CpuidSignature, P.Out + 0x30);
            P.Cpuid(a, KvmAbi.CpuidFeatures, P.Out + 0x40);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());

        Assert.NotEqual(0u, m.Read32(P.Out + 8) & 1u << 31);                 // CPUID.1:ECX.hypervisor
        Assert.Equal("VirtParavirt", P.Signature(m, P.Out + 0x10));
        Assert.Equal(VirtAbi.MaxLeaf, m.Read32(P.Out + 0x10));
        Assert.Equal(VirtAbi.InterfaceVersion, m.Read32(P.Out + 0x20));
        Assert.Equal("KVMKVMKVM\0\0\0", P.Signature(m, P.Out + 0x30));
        Assert.Equal(KvmAbi.CpuidFeatures, m.Read32(P.Out + 0x30));           // KVM's highest leaf
        uint kvm = m.Read32(P.Out + 0x40);
        Assert.Equal(KvmAbi.FeatureClocksource2 | KvmAbi.FeatureNopIoDelay | KvmAbi.FeatureClocksourceStableBit,
            kvm & (KvmAbi.FeatureClocksource2 | KvmAbi.FeatureNopIoDelay | KvmAbi.FeatureClocksourceStableBit));
        Assert.Equal(0u, kvm & KvmAbi.FeaturePvEoi);                          // no local APIC on this machine
        Assert.Equal(0u, kvm & KvmAbi.FeatureClocksource);                    // only the _NEW MSRs
        Assert.Equal(0u, m.Read32(P.Out + 0x4C));                             // EDX: no hints
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void With_the_interfaces_off_the_guest_sees_an_ordinary_i686(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.None, a =>
        {
            P.Cpuid(a, 1, P.Out);
            P.Cpuid(a, KvmAbi.CpuidSignature, P.Out + 0x10);
            P.Cpuid(a, 0x7FFF_FFFF, P.Out + 0x20);                            // another leaf beyond the maximum
            P.Rdmsr(a, KvmAbi.MsrSystemTimeNew, P.Out + 0x30);
            P.Wrmsr(a, KvmAbi.MsrPvEoiEnable, P.ClockPage | 1);
            a.mov(__dword_ptr[P.Out + 0x38], eax);
            a.mov(eax, KvmAbi.HcVapicPollIrq);
            a.vmcall();
            a.mov(__dword_ptr[P.Out + 0x3C], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());

        Assert.Equal(0u, m.Read32(P.Out + 8) & 1u << 31);
        for (int i = 0; i < 16; i += 4) Assert.Equal(m.Read32(P.Out + 0x20 + (uint)i), m.Read32(P.Out + 0x10 + (uint)i));
        Assert.Equal(2u, m.Read32(P.Faults));                                 // RDMSR and WRMSR: #GP
        Assert.Equal(1u, m.Read32(P.Faults + 4));                             // VMCALL: #UD
        Assert.Equal(P.FaultMarker, m.Read32(P.Out + 0x30));
        Assert.Equal(P.FaultMarker, m.Read32(P.Out + 0x38));
        Assert.Equal(P.FaultMarker, m.Read32(P.Out + 0x3C));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Msrs_of_features_not_offered_and_unknown_msrs_fault(string engine)
    {
        // kvmclock only: PV EOI's MSR, KVM's other MSRs (async PF 0x4b564d02, steal time 0x4b564d03),
        // the legacy kvmclock MSRs 0x11/0x12 and the call table's MSR when virt-pv is off all #GP.
        using var m = P.Machine(engine, ParavirtFeatures.Kvm | ParavirtFeatures.KvmClock, a =>
        {
            P.Rdmsr(a, KvmAbi.MsrPvEoiEnable, P.Out);
            P.Rdmsr(a, 0x4B56_4D02, P.Out + 8);
            P.Wrmsr(a, 0x4B56_4D03, 0);
            P.Rdmsr(a, 0x11, P.Out + 0x10);
            P.Wrmsr(a, 0x12, P.WallClock | 1);
            P.Rdmsr(a, VirtAbi.MsrCallTable, P.Out + 0x18);
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage | 1);             // offered: no fault
            P.Rdmsr(a, KvmAbi.MsrSystemTimeNew, P.Out + 0x20);
            P.Cpuid(a, VirtAbi.CpuidSignature, P.Out + 0x30);
            P.Cpuid(a, 0x7FFF_FFFF, P.Out + 0x40);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(6u, m.Read32(P.Faults));
        Assert.Equal(P.ClockPage | 1, m.Read32(P.Out + 0x20));
        // This monitor's leaves are off: 0x40000000 reads as any leaf beyond the maximum.
        for (int i = 0; i < 16; i += 4) Assert.Equal(m.Read32(P.Out + 0x40 + (uint)i), m.Read32(P.Out + 0x30 + (uint)i));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Kvm_hypercalls_answer_in_eax(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.All, a =>
        {
            a.mov(eax, KvmAbi.HcVapicPollIrq);
            a.vmcall();
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, 12345);                                                // no such hypercall
            a.vmcall();
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0u, m.Read32(P.Out));
        Assert.Equal(KvmAbi.ErrorNoSys, m.Read32(P.Out + 4));
        Assert.Equal(0u, m.Read32(P.Faults + 4));
        Assert.Equal(2, m.Cpu.Hypercalls);
    }
}
