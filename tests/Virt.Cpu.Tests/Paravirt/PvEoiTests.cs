using Iced.Intel;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Linux;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// KVM's PV EOI on the PC chipset's local APIC (msr.rst, MSR_KVM_PV_EOI_EN): the guest finds bit 0
/// of its word set when an interrupt may end without an EOI write, clears it instead of writing
/// the EOI register, and the APIC still ends the interrupt (the next one of the same vector arrives).
/// </summary>
public sealed class PvEoiTests
{
    private const uint Gdt = 0x1000, Idt = 0x2000, Handler = 0x20000, Code = 0x10000;
    private const uint Word = 0x5100, Count = 0x5200, RealEois = 0x5204, BitSeen = 0x5208;
    private const uint Apic = 0xFEE0_0000, ApicSvr = Apic + 0xF0, ApicEoi = Apic + 0xB0, ApicIcrLow = Apic + 0x300;
    private const int Interrupts = 3;

    /// <summary>Three self-IPIs of vector 0x40, each waited for; the handler uses the PV EOI word when <paramref name="usePvEoi"/>.</summary>
    private static InProcessPc Run(string engine, bool usePvEoi)
    {
        var pc = new InProcessPc(16u << 20, nanosecondsPerInstruction: 10, withApic: true);
        pc.Cpu.Paravirt = ParavirtFeatures.All;
        pc.Cpu.Engine = Engines.Of(engine);
        pc.Cpu.TranslationThreshold = 0;
        pc.Memory.Write64(Gdt + 8, Descriptors.Code32());
        pc.Memory.Write64(Gdt + 16, Descriptors.Data32());
        pc.Memory.Write64(Idt + 0x40 * 8, Descriptors.Gate(0x08, Handler, 0xE));
        pc.Memory.Write16(0x500, 3 * 8 - 1); pc.Memory.Write32(0x502, Gdt);
        pc.Memory.Write16(0x508, 256 * 8 - 1); pc.Memory.Write32(0x50A, Idt);

        var h = new Assembler(32);
        var skip = h.CreateLabel();
        h.push(eax);
        h.mov(eax, __dword_ptr[Word]);
        h.or(__dword_ptr[BitSeen], eax);
        if (usePvEoi)
        {
            h.btr(__dword_ptr[Word], 0);                                   // Linux's kvm_guest_apic_eoi_write
            h.jc(skip);
        }
        h.mov(__dword_ptr[ApicEoi], 0);
        h.add(__dword_ptr[RealEois], 1);
        h.Label(ref skip);
        h.add(__dword_ptr[Count], 1);
        h.pop(eax);
        h.iretd();
        pc.Memory.Load(Handler, TestMachine.Assemble(h, Handler));

        var a = new Assembler(32);
        a.lgdt(__[0x500]);
        a.lidt(__[0x508]);
        a.mov(esp, 0x80000);
        a.mov(__dword_ptr[ApicSvr], 0x1FF);                                // software-enabled, spurious vector 0xFF
        if (usePvEoi)
        {
            a.mov(ecx, KvmAbi.MsrPvEoiEnable);
            a.mov(eax, Word | 1);
            a.xor(edx, edx);
            a.wrmsr();
        }
        a.sti();
        for (int i = 1; i <= Interrupts; i++)
        {
            a.mov(__dword_ptr[ApicIcrLow], 0x4_0040);                      // fixed IPI to self, vector 0x40
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.cmp(__dword_ptr[Count], i);
            a.jb(wait);
        }
        a.cli();
        a.hlt();
        FlatLoader.Load32(pc.Cpu, TestMachine.Assemble(a, Code), Code, Code);
        pc.Run(TimeSpan.FromSeconds(60), _ => false);
        return pc;
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_guest_that_clears_the_bit_skips_the_eoi_write_and_interrupts_go_on(string engine)
    {
        using var pc = Run(engine, usePvEoi: true);
        Assert.Equal("halted with interrupts off", pc.StopReasonText);
        Assert.Equal((uint)Interrupts, pc.Memory.Read32(Count));
        Assert.Equal(KvmAbi.PvEoiPending, pc.Memory.Read32(BitSeen));      // the monitor set the bit for the handler
        Assert.Equal(0u, pc.Memory.Read32(RealEois));
        Assert.Equal(Interrupts, pc.LocalApic!.Metrics.PvEois);
        Assert.Equal(0, pc.LocalApic.Metrics.Eois);
        Assert.Equal(0u, pc.Memory.Read32(Word));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_guest_that_never_enables_it_writes_its_eois_as_before(string engine)
    {
        using var pc = Run(engine, usePvEoi: false);
        Assert.Equal("halted with interrupts off", pc.StopReasonText);
        Assert.Equal((uint)Interrupts, pc.Memory.Read32(Count));
        Assert.Equal(0u, pc.Memory.Read32(BitSeen));
        Assert.Equal((uint)Interrupts, pc.Memory.Read32(RealEois));
        Assert.Equal(0, pc.LocalApic!.Metrics.PvEois);
        Assert.Equal(Interrupts, pc.LocalApic.Metrics.Eois);
    }
}
