using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>A ROM at the reset vector: the CPU starts at F000:FFF0 (physical 0xFFFFFFF0) and reaches the low alias.</summary>
public class RomBootTests
{
    [Fact]
    public void ResetVectorRunsFromTheTopOfFourGigabytesIntoTheLowAlias()
    {
        using var m = new TestMachine();
        var rom = new byte[64 << 10];
        var entry = new Assembler(16);
        entry.mov(dx, 0xE9);
        entry.mov(al, (byte)'O');
        entry.@out(dx, al);
        entry.mov(al, (byte)'K');
        entry.@out(dx, al);
        entry.db(0x2E, 0xA1); entry.dw(0xFFE0);          // mov ax, cs:[0xFFE0]: read the ROM through CS (low alias)
        entry.hlt();
        TestMachine.Assemble(entry, 0xE000).CopyTo(rom, 0xE000);
        rom[0xFFE0] = 0x34; rom[0xFFE1] = 0x12;
        var reset = new Assembler(16);
        reset.db(0xEA); reset.dw(0xE000); reset.dw(0xF000);     // jmp far F000:E000
        TestMachine.Assemble(reset, 0xFFF0).CopyTo(rom, 0xFFF0);

        RomLoader.LoadBios(m.Cpu, rom);
        Assert.Equal(0xFFFF_0000u, m.Cpu.State.Cs.Base);
        Assert.Equal(0xFFF0u, m.Cpu.State.Eip);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("OK", m.Console.ToString());
        Assert.Equal(0xF_0000u, m.Cpu.State.Cs.Base);
        Assert.Equal(0x1234u, m.Cpu.State.Eax & 0xFFFF);
        // ROM is read-only: a guest write is dropped.
        m.Memory.Write8(0xFFFE0, 0x99);
        Assert.Equal(0x34, m.Memory.Read8(0xFFFE0));
    }

    [Fact]
    public void RejectsImagesThatAreNotWholePages()
    {
        using var m = new TestMachine();
        Assert.Throws<ArgumentException>(() => RomLoader.LoadBios(m.Cpu, new byte[1000]));
    }
}
