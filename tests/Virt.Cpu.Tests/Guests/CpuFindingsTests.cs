using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Guests;

/// <summary>
/// CPU behaviour the compiled guests ran into, reduced to a few instructions each. Failing tests
/// here are bugs in the CPU core, reported to its owners; the guest tests that hit them fail too.
/// </summary>
public class CpuFindingsTests
{
    /// <summary>
    /// 0F 18-0F 1F are hint NOPs on every P6-family CPU; ENDBR32 (F3 0F 1E FB) is one of them and
    /// Debian's libgcc (built with -fcf-protection) starts every function with it, so an i686 must
    /// execute it as a NOP. QEMU does.
    /// </summary>
    [Fact]
    public void HintNopsIncludingEndbr32ExecuteAsNops()
    {
        using var m = new TestMachine();
        m.Load32(0x10_0000, a =>
        {
            a.mov(eax, 1);
            a.db(0xF3, 0x0F, 0x1E, 0xFB);       // endbr32
            a.db(0x0F, 0x1F, 0x40, 0x00);       // nop dword [eax+0]
            a.db(0x0F, 0x19, 0x00);             // reserved hint nop [eax]
            a.db(0x0F, 0x1E, 0xC8);             // 0F 1E /r with a register operand
            a.mov(ebx, 2);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0L, m.Cpu.ExceptionCounts[Virt.Cpu.Execution.Vectors.UD]);
        Assert.Equal(2u, m.Cpu.State.Ebx);
    }

    /// <summary>
    /// Run promises never to throw for anything the guest does: a triple fault must come back as
    /// StopReason.Shutdown with ShutdownReason set. The ShutdownException that DeliverFault throws
    /// escapes because it is raised inside Run's catch (GuestFault) block, where the sibling
    /// catch (ShutdownException) does not apply.
    /// </summary>
    [Fact]
    public void TripleFaultReturnsShutdownInsteadOfThrowing()
    {
        using var m = new TestMachine();
        m.Load32(0x10_0000, a => a.ud2()); // IDT limit 0: #UD -> #GP -> #DF -> shutdown
        StopReason r = StopReason.BudgetExhausted;
        var e = Record.Exception(() => r = m.Cpu.Run(1000));
        Assert.Null(e);
        Assert.Equal(StopReason.Shutdown, r);
        Assert.NotNull(m.Cpu.ShutdownReason);
    }

    /// <summary>
    /// A plain RET (C3) must pop exactly 4 bytes wherever it sits in a block. CompactForm.Build sets
    /// DecodedOp.Extra to the instruction's index in the block and only RET imm16 overwrites it, so
    /// the interpreter's AdjustSp(4 + d.Extra) pops 4 + index bytes: every compiled C function
    /// whose RET is not the first instruction of its block returns with ESP off. Single-stepping
    /// (one-instruction blocks) hides it.
    /// </summary>
    [Fact]
    public void PlainRetPopsFourBytesAtAnyPositionInABlock()
    {
        using var m = new TestMachine();
        m.Load32(0x10_0000, a =>
        {
            var f = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.call(f);
            a.hlt();
            a.Label(ref f);
            a.nop();
            a.mov(eax, 7);
            a.nop();
            a.ret(); // fourth instruction of its block
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x9000u, m.Cpu.State.Esp);
    }
}
