using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>SHLD/SHRD with immediate and CL counts, 16 and 32 bits, register and memory.</summary>
public class DoubleShiftTests
{
    [Fact]
    public void Shld32()
    {
        using var m = Guest.Flat(a => a.shld(eax, ebx, 4), s => { s.Eax = 0x1234_5678; s.Ebx = 0x9ABC_DEF0; });
        Assert.Equal(0x2345_6789u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void Shrd32()
    {
        using var m = Guest.Flat(a => a.shrd(eax, ebx, 4), s => { s.Eax = 0x1234_5678; s.Ebx = 0x9ABC_DEF0; });
        Assert.Equal(0x0123_4567u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void Shld16ByCl()
    {
        using var m = Guest.Flat(a => a.shld(ax, bx, cl), s => { s.Eax = 0xFFFF_1234; s.Ebx = 0xABCD; s.Ecx = 8; });
        Assert.Equal(0xFFFF_34ABu, m.Cpu.State.Eax);
        Assert.Equal(0u, Guest.Flag(m, CF));
    }

    [Fact]
    public void ShrdMemoryOperand()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 0x0000_00FF);
            a.mov(ebx, 1);
            a.shrd(__dword_ptr[Guest.Data], ebx, 1);
        });
        Assert.Equal(0x8000_007Fu, m.Read32(Guest.Data));
        Assert.Equal(CF | SF, Guest.Arith(m) & (CF | SF | ZF));
    }

    [Fact]
    public void ZeroCountChangesNothing()
    {
        using var m = Guest.Flat(a => { a.stc(); a.shld(eax, ebx, cl); }, s => { s.Eax = 5; s.Ebx = 6; s.Ecx = 32; });
        Assert.Equal(5u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }
}
