using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>RESET takes the CPU out of every state a guest left it in, the shutdown state included.</summary>
public class ResetTests
{
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void ResetAfterATripleFaultRunsAgain(string engine)
    {
        using var m = new TestMachine();
        Engines.Use(m, engine);
        // Real mode with an empty IDT: INT3 cannot be delivered, nor #GP, nor #DF: shutdown.
        m.LoadReal(0x1000, 0x100, a =>
        {
            a.lidt(__[0x200]);
            a.int3();
            a.hlt();
        });
        m.Memory.Load(0x200, new byte[6]); // DS = 0: limit 0, base 0
        Assert.Equal(StopReason.Shutdown, m.Cpu.Run(1000));
        Assert.NotNull(m.Cpu.ShutdownReason);

        m.Cpu.Reset();
        Assert.Null(m.Cpu.ShutdownReason);
        m.LoadReal(0x1000, 0x300, a =>
        {
            a.mov(dh, 0x8A);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x8Au, (m.Cpu.State.Edx >> 8) & 0xFF);
    }
}
