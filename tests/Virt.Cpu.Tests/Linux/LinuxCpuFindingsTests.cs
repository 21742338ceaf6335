using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// CPU bugs that booting Linux ran into, each reduced to a few instructions.
/// </summary>
public class LinuxCpuFindingsTests
{
    /// <summary>
    /// Linux's __ffs/_find_first_bit use "rep; bsf" (F3 0F BC), which BMI1 CPUs run as TZCNT and
    /// every older CPU as BSF. An i686 must treat it as BSF (and F3 0F BD as BSR), not raise #UD
    /// (the kernel died in setup_per_cpu_areas with "early exception 0x06").
    /// </summary>
    [Fact]
    public void RepBsfAndRepBsrAreBsfAndBsrOnAnI686()
    {
        using var m = new TestMachine();
        m.Load32(0x10_0000, a =>
        {
            a.mov(ecx, 0x0000_0100);
            a.db(0xF3, 0x0F, 0xBC, 0xC1);       // rep bsf eax, ecx  (tzcnt on BMI1)
            a.mov(edx, 0x0000_0100);
            a.db(0xF3, 0x0F, 0xBD, 0xDA);       // rep bsr ebx, edx  (lzcnt on ABM): BSR gives 8, LZCNT would give 23
            a.mov(esi, 0x1234_5678);
            a.xor(edi, edi);
            a.db(0xF3, 0x0F, 0xBC, 0xF7);       // rep bsf esi, edi: source 0 -> ZF=1, destination unchanged
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0L, m.Cpu.ExceptionCounts[Virt.Cpu.Execution.Vectors.UD]);
        Assert.Equal(8u, m.Cpu.State.Eax);
        Assert.Equal(8u, m.Cpu.State.Ebx);
        Assert.Equal(0x1234_5678u, m.Cpu.State.Esi);
        Assert.NotEqual(0u, m.Cpu.State.Eflags & 0x40);
    }
}
