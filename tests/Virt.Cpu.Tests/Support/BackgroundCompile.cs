using Virt.Cpu.Execution;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// A counting loop run until another thread has compiled it and the running CPU has picked the code
/// up (a loaded machine may take a while: the guest loops until it has, so nothing depends on
/// timing); then a few more slices, and EAX must be exactly what the retired count says.
/// </summary>
public static class BackgroundCompile
{
    public static void RunLoopUntilCompiled(TestMachine m)
    {
        m.Load32(Guest.CodeBase, a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.jmp(top);
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (m.Cpu.BlocksTranslated == 0 && DateTime.UtcNow < deadline)
            Assert.Equal(StopReason.BudgetExhausted, m.Cpu.Run(1_000_001));
        Assert.True(m.Cpu.BlocksTranslated > 0, "the loop was compiled within 60 s");
        for (int i = 0; i < 5; i++) Assert.Equal(StopReason.BudgetExhausted, m.Cpu.Run(1_000_001));
        long loop = m.Cpu.InstructionsRetired - 1; // after the XOR: INC, JMP, INC, ...
        Assert.Equal((uint)(loop / 2 + (loop & 1)), m.Cpu.State.Eax);
    }
}
