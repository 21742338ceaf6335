using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Machine;

/// <summary>x87 instructions through the integer core: memory operands, #NM for CR0.TS, #MF for CR0.NE.</summary>
public class FpuIntegrationTests
{
    [Fact]
    public void ComputesThroughMemoryOperandsAndStoresIntegers()
    {
        using var m = new TestMachine();
        m.Memory.Write64(0x5000, BitConverter.DoubleToUInt64Bits(2.0));
        m.Memory.Write64(0x5008, BitConverter.DoubleToUInt64Bits(1000.0));
        m.Load32(0x10_0000, a =>
        {
            a.fninit();
            a.fld(__qword_ptr[0x5000]);
            a.fsqrt();
            a.fmul(__qword_ptr[0x5008]);
            a.fistp(__dword_ptr[0x5010]);   // round to nearest: 1414
            a.fldpi();
            a.fstp(__qword_ptr[0x5018]);
            a.fnstsw(ax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(1414u, m.Read32(0x5010));
        Assert.Equal(Math.PI, BitConverter.UInt64BitsToDouble(m.Memory.Read64(0x5018)));
        Assert.Equal(0u, m.Cpu.State.Eax & 0x3800);        // TOP back to 0
    }

    [Fact]
    public void TaskSwitchedFlagRaisesDeviceNotAvailable()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteIdt(7, Descriptors.Gate(G.KCode, 0x20000, 0xE));
        g.Handler(0x20000, a => { a.clts(); a.inc(esi); a.iretd(); });
        g.Load(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 8);                   // TS
            a.mov(cr0, eax);
            a.fninit();                     // #NM, handler clears TS, retried
            a.fld1();
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(1u, m.Cpu.State.Esi);
    }

    [Fact]
    public void UnmaskedExceptionRaisesMathFaultAtTheNextWaitingInstruction()
    {
        using var m = new TestMachine();
        var g = new G(m);
        m.Memory.Write16(0x5000, 0x037B);   // control word: ZE unmasked
        g.WriteIdt(16, Descriptors.Gate(G.KCode, 0x20000, 0xE));
        g.Handler(0x20000, a => { a.fnclex(); a.inc(esi); a.iretd(); });
        g.Load(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, 0x20);                // NE
            a.mov(cr0, eax);
            a.fninit();
            a.fldcw(__word_ptr[0x5000]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);              // 1/0: ZE pending, no fault yet
            a.mov(edi, 1);
            a.wait();                       // #MF here
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(1u, m.Cpu.State.Esi);
        Assert.Equal(1u, m.Cpu.State.Edi);
        Assert.Equal(1L, m.Cpu.ExceptionCounts[16]);
    }
}
