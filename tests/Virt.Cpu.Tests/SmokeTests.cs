using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests;

public class SmokeTests
{
    [Fact]
    public void Flat32LoopComputesSumAndHalts()
    {
        using var m = new TestMachine();
        m.Load32(0x10_0000, a =>
        {
            var loop = a.CreateLabel();
            a.mov(eax, 0);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(5050u, m.Cpu.State.Eax);
        Assert.Equal(0u, m.Cpu.State.Ecx);
    }

    [Fact]
    public void RealModePrintsThroughDebugPort()
    {
        using var m = new TestMachine();
        m.LoadReal(0x1000, 0x100, a =>
        {
            var loop = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(ax, 0x1000);
            a.mov(ds, ax);
            a.mov(si, 0x200);
            a.mov(dx, 0xE9);
            a.cld();
            a.Label(ref loop);
            a.lodsb();
            a.test(al, al);
            a.jz(done);
            a.@out(dx, al);
            a.jmp(loop);
            a.Label(ref done);
            a.hlt();
        });
        m.Memory.Load(0x10200, "hello\0"u8);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("hello", m.Console.ToString());
    }
}
