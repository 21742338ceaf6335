using Iced.Intel;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>ADD/ADC/SUB/SBB/CMP/NEG/INC/DEC/logic: results and all six arithmetic flags, 8/16/32 bits.</summary>
public class AluFlagsTests
{
    private static TestMachine Run(Action<Assembler> code, uint eax, uint ebx, bool cf) =>
        Guest.Flat(a => { if (cf) a.stc(); else a.clc(); code(a); }, s => { s.Eax = eax; s.Ebx = ebx; });

    [Theory]
    [InlineData("add", 0x7FFF_FFFFu, 1u, false, 0x8000_0000u, OF | SF | AF | PF)]
    [InlineData("add", 0xFFFF_FFFFu, 1u, false, 0u, CF | ZF | AF | PF)]
    [InlineData("add", 0x8000_0000u, 0x8000_0000u, false, 0u, CF | OF | ZF | PF)]
    [InlineData("adc", 0xFFFF_FFFFu, 0u, true, 0u, CF | ZF | AF | PF)]
    [InlineData("adc", 0x7FFF_FFFFu, 0u, true, 0x8000_0000u, OF | SF | AF | PF)]
    [InlineData("sub", 0u, 1u, false, 0xFFFF_FFFFu, CF | SF | AF | PF)]
    [InlineData("sub", 0x8000_0000u, 1u, false, 0x7FFF_FFFFu, OF | AF | PF)]
    [InlineData("sbb", 0u, 0u, true, 0xFFFF_FFFFu, CF | SF | AF | PF)]
    [InlineData("sbb", 5u, 4u, true, 0u, ZF | PF)]
    [InlineData("cmp", 3u, 3u, false, 3u, ZF | PF)]
    [InlineData("and", 0xF0F0_F0F0u, 0x0FF0_0FF0u, true, 0x00F0_00F0u, PF)]
    [InlineData("or", 0x8000_0000u, 1u, true, 0x8000_0001u, SF)]
    [InlineData("xor", 0x1234u, 0x1234u, true, 0u, ZF | PF)]
    public void Binary32(string op, uint a, uint b, bool cfIn, uint result, uint flags)
    {
        using var m = Run(x =>
        {
            switch (op)
            {
                case "add": x.add(eax, ebx); break;
                case "adc": x.adc(eax, ebx); break;
                case "sub": x.sub(eax, ebx); break;
                case "sbb": x.sbb(eax, ebx); break;
                case "cmp": x.cmp(eax, ebx); break;
                case "and": x.and(eax, ebx); break;
                case "or": x.or(eax, ebx); break;
                default: x.xor(eax, ebx); break;
            }
        }, a, b, cfIn);
        Assert.Equal(result, m.Cpu.State.Eax);
        // AF after logic ops is undefined (SDM); this CPU clears it like the host.
        Assert.Equal(flags, Guest.Arith(m));
    }

    [Fact]
    public void Byte_AddWrapsAndSetsCarryAndOverflow()
    {
        using var m = Run(x => x.add(al, bl), 0x1234_5680, 0x80, false);
        Assert.Equal(0x1234_5600u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF | ZF | PF, Guest.Arith(m));
    }

    [Fact]
    public void Byte_HighRegisterSubtract()
    {
        using var m = Run(x => x.sub(ah, bh), 0x0000_1000, 0x0000_2000, false);
        Assert.Equal(0x0000_F000u, m.Cpu.State.Eax);
        Assert.Equal(CF | SF | PF, Guest.Arith(m));
    }

    [Fact]
    public void Word_OperandKeepsUpperHalf()
    {
        using var m = Run(x => x.add(ax, bx), 0xAAAA_FFFF, 1, false);
        Assert.Equal(0xAAAA_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF | ZF | AF | PF, Guest.Arith(m));
    }

    [Fact]
    public void IncDecKeepCarry()
    {
        using var m = Run(x => { x.inc(ax); x.mov(ecx, eax); x.dec(ebx); }, 0x7FFF, 0, true);
        Assert.Equal(0x8000u, m.Cpu.State.Ecx & 0xFFFF);
        Assert.Equal(0xFFFF_FFFFu, m.Cpu.State.Ebx);
        Assert.Equal(CF | SF | AF | PF, Guest.Arith(m)); // from DEC; CF from the STC survives INC and DEC
    }

    [Fact]
    public void IncSetsOverflowAtSignBoundary()
    {
        using var m = Run(x => x.inc(eax), 0x7FFF_FFFF, 0, false);
        Assert.Equal(OF | SF | AF | PF, Guest.Arith(m));
    }

    [Theory]
    [InlineData(0u, 0u, ZF | PF)]
    [InlineData(1u, 0xFFFF_FFFFu, CF | SF | AF | PF)]
    [InlineData(0x8000_0000u, 0x8000_0000u, CF | OF | SF | PF)]
    public void Neg(uint a, uint result, uint flags)
    {
        using var m = Run(x => x.neg(eax), a, 0, false);
        Assert.Equal(result, m.Cpu.State.Eax);
        Assert.Equal(flags, Guest.Arith(m));
    }

    [Fact]
    public void MemoryReadModifyWrite()
    {
        using var m = Guest.Flat(x =>
        {
            x.mov(__dword_ptr[Guest.Data], 0xFFFF_FFFF);
            x.add(__dword_ptr[Guest.Data], 2);
            x.mov(__byte_ptr[Guest.Data + 8], 0x7F);
            x.add(__byte_ptr[Guest.Data + 8], 1);
            x.mov(__word_ptr[Guest.Data + 12], 0x10);
            x.sub(__word_ptr[Guest.Data + 12], bx);
        }, s => s.Ebx = 0x20);
        Assert.Equal(1u, m.Read32(Guest.Data));
        Assert.Equal(0x80u, m.Read32(Guest.Data + 8));
        Assert.Equal(0xFFF0u, m.Read32(Guest.Data + 12));
        Assert.Equal(CF | SF | PF, Guest.Arith(m));
    }

    [Fact]
    public void LahfSahfRoundTrip()
    {
        using var m = Guest.Flat(x => { x.mov(ah, 0xD7); x.sahf(); x.mov(ah, 0); x.lahf(); });
        Assert.Equal(0xD7u, (m.Cpu.State.Eax >> 8) & 0xFF);
        Assert.Equal(CF | PF | AF | ZF | SF, Guest.Arith(m));
    }
}
