using Iced.Intel;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>SHL/SHR/SAR/ROL/ROR/RCL/RCR: results, CF, and OF where the SDM defines it (count 1).</summary>
public class ShiftRotateTests
{
    private static TestMachine Run(Action<Assembler> code, uint eax, uint ecx = 0, bool cf = false) =>
        Guest.Flat(a => { if (cf) a.stc(); else a.clc(); code(a); }, s => { s.Eax = eax; s.Ecx = ecx; });

    [Fact]
    public void ShlByOne()
    {
        using var m = Run(a => a.shl(eax, 1), 0x8000_0001);
        Assert.Equal(2u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF | ZF | SF));
    }

    [Fact]
    public void ShrByOneSetsOverflowFromOldSign()
    {
        using var m = Run(a => a.shr(eax, 1), 0x8000_0001);
        Assert.Equal(0x4000_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void SarByOneKeepsSign()
    {
        using var m = Run(a => a.sar(eax, 1), 0x8000_0001);
        Assert.Equal(0xC000_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF | SF | PF, Guest.Arith(m) & (CF | OF | SF | ZF | PF));
    }

    [Fact]
    public void CountIsMaskedToFiveBits()
    {
        using var m = Run(a => a.shl(eax, cl), 3, 33);
        Assert.Equal(6u, m.Cpu.State.Eax);
    }

    [Fact]
    public void MaskedZeroCountChangesNothing()
    {
        using var m = Run(a => { a.stc(); a.shl(eax, cl); }, 0x8000_0000, 32);
        Assert.Equal(0x8000_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void ShiftByImmediateCountSetsLastBitOut()
    {
        using var m = Run(a => a.shr(eax, 4), 0x0000_0018);
        Assert.Equal(1u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void SarByteFillsWithSign()
    {
        using var m = Run(a => a.sar(al, 7), 0x80);
        Assert.Equal(0xFFu, m.Cpu.State.Eax);
        Assert.Equal(0u, Guest.Flag(m, CF));
    }

    [Fact]
    public void RolByte()
    {
        using var m = Run(a => a.rol(al, 1), 0x81);
        Assert.Equal(0x03u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void RorByte()
    {
        using var m = Run(a => a.ror(al, 1), 0x81);
        Assert.Equal(0xC0u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void RolWordByMultiple()
    {
        using var m = Run(a => a.rol(ax, 4), 0xFFFF_1234);
        Assert.Equal(0xFFFF_2341u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void RclThroughCarry()
    {
        using var m = Run(a => a.rcl(al, 1), 0x80, cf: true);
        Assert.Equal(0x01u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void RcrThroughCarry()
    {
        using var m = Run(a => a.rcr(al, 1), 0x01, cf: false);
        Assert.Equal(0x00u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void RclWordBy17IsIdentity()
    {
        using var m = Run(a => a.rcl(ax, cl), 0x8001, 17, cf: true);
        Assert.Equal(0x8001u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void RcrDwordByThree()
    {
        // CF=1:0x00000005 rotated right by 3 through carry: bits 0-1 go to 30-31, bit 2 to CF, CF to bit 29.
        using var m = Run(a => a.rcr(eax, 3), 0x0000_0005, cf: true);
        Assert.Equal(0x6000_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void ShiftMemoryOperand()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 0x4000_0001);
            a.shl(__dword_ptr[Guest.Data], 2);
        });
        Assert.Equal(4u, m.Read32(Guest.Data));
        Assert.Equal(CF, Guest.Flag(m, CF));
    }
}
