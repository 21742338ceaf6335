using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>MUL/IMUL (one, two and three operands) and DIV/IDIV with #DE on zero and overflow.</summary>
public class MulDivTests
{
    [Fact]
    public void Mul32IntoEdxEax()
    {
        using var m = Guest.Flat(a => a.mul(ebx), s => { s.Eax = 0x8000_0000; s.Ebx = 2; });
        Assert.Equal(0u, m.Cpu.State.Eax);
        Assert.Equal(1u, m.Cpu.State.Edx);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void Mul8IntoAx()
    {
        using var m = Guest.Flat(a => a.mul(bl), s => { s.Eax = 0xFFFF_0010; s.Ebx = 0x10; s.Edx = 0x55; });
        Assert.Equal(0xFFFF_0100u, m.Cpu.State.Eax);
        Assert.Equal(0x55u, m.Cpu.State.Edx);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void MulSmallClearsCarry()
    {
        using var m = Guest.Flat(a => { a.stc(); a.mul(cx); }, s => { s.Eax = 2; s.Ecx = 3; s.Edx = 0xAAAA_AAAA; });
        Assert.Equal(6u, m.Cpu.State.Eax);
        Assert.Equal(0xAAAA_0000u, m.Cpu.State.Edx);
        Assert.Equal(0u, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void Imul16OneOperandSignExtends()
    {
        using var m = Guest.Flat(a => a.imul(cx), s => { s.Eax = 0xFFFE; s.Ecx = 3; });
        Assert.Equal(0xFFFAu, m.Cpu.State.Eax);
        Assert.Equal(0xFFFFu, m.Cpu.State.Edx & 0xFFFF);
        Assert.Equal(0u, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void ImulThreeOperandOverflow()
    {
        using var m = Guest.Flat(a => a.imul(eax, ebx, 3), s => s.Ebx = 0x4000_0000);
        Assert.Equal(0xC000_0000u, m.Cpu.State.Eax);
        Assert.Equal(CF | OF, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void ImulTwoOperandNegative()
    {
        using var m = Guest.Flat(a => a.imul(ecx, ebx), s => { s.Ecx = unchecked((uint)-7); s.Ebx = 6; });
        Assert.Equal(unchecked((uint)-42), m.Cpu.State.Ecx);
        Assert.Equal(0u, Guest.Arith(m) & (CF | OF));
    }

    [Fact]
    public void Div32()
    {
        using var m = Guest.Flat(a => a.div(ebx), s => { s.Edx = 1; s.Eax = 5; s.Ebx = 0x10; });
        Assert.Null(Guest.Exception(m));
        Assert.Equal(0x1000_0000u, m.Cpu.State.Eax);
        Assert.Equal(5u, m.Cpu.State.Edx);
    }

    [Fact]
    public void Idiv32TruncatesTowardZero()
    {
        using var m = Guest.Flat(a => a.idiv(ebx), s => { s.Edx = 0xFFFF_FFFF; s.Eax = unchecked((uint)-7); s.Ebx = 2; });
        Assert.Equal(unchecked((uint)-3), m.Cpu.State.Eax);
        Assert.Equal(unchecked((uint)-1), m.Cpu.State.Edx);
    }

    [Fact]
    public void Idiv8()
    {
        using var m = Guest.Flat(a => a.idiv(bl), s => { s.Eax = 0xFFF9; s.Ebx = 2; });
        Assert.Equal(0xFFFDu, m.Cpu.State.Eax & 0xFFFF);
    }

    [Theory]
    [InlineData(0u, 5u, 0u)]                       // divide by zero
    [InlineData(2u, 0u, 2u)]                       // quotient does not fit
    public void DivFaults(uint high, uint low, uint divisor)
    {
        using var m = Guest.Flat(a => a.div(ebx), s => { s.Edx = high; s.Eax = low; s.Ebx = divisor; });
        Assert.Equal(Execution.Vectors.DE, Guest.Exception(m));
        Assert.Equal(low, m.Cpu.State.Eax);
        Assert.Equal(high, m.Cpu.State.Edx);
        // The frame's return address is the DIV itself (a fault).
        Assert.Equal(Guest.CodeBase, m.Read32(m.Cpu.State.Esp));
    }

    [Fact]
    public void IdivMostNegativeByMinusOneFaults()
    {
        using var m = Guest.Flat(a => a.idiv(ebx), s => { s.Edx = 0xFFFF_FFFF; s.Eax = 0x8000_0000; s.Ebx = 0xFFFF_FFFF; });
        Assert.Equal(Execution.Vectors.DE, Guest.Exception(m));
    }

    [Fact]
    public void Idiv8QuotientOverflowFaults()
    {
        using var m = Guest.Flat(a => a.idiv(bl), s => { s.Eax = 0xFF80; s.Ebx = 0xFF; });
        Assert.Equal(Execution.Vectors.DE, Guest.Exception(m));
    }
}
