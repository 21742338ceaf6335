using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>DAA/DAS/AAA/AAS/AAM/AAD in 16-bit real mode, where BCD code lives.</summary>
public class BcdTests
{
    [Fact]
    public void DaaAfterAdd()
    {
        using var m = Guest.Real(a => { a.mov(al, 0x15); a.add(al, 0x27); a.daa(); });
        Assert.Equal(0x42u, m.Cpu.State.Eax & 0xFF);
        Assert.Equal(AF, Guest.Arith(m) & (CF | AF));
    }

    [Fact]
    public void DaaCarriesOutOfTheHundreds()
    {
        using var m = Guest.Real(a => { a.mov(al, 0x99); a.add(al, 0x01); a.daa(); });
        Assert.Equal(0x00u, m.Cpu.State.Eax & 0xFF);
        Assert.Equal(CF | AF | ZF, Guest.Arith(m) & (CF | AF | ZF));
    }

    [Fact]
    public void DasAfterSub()
    {
        using var m = Guest.Real(a => { a.mov(al, 0x42); a.sub(al, 0x15); a.das(); });
        Assert.Equal(0x27u, m.Cpu.State.Eax & 0xFF);
        Assert.Equal(AF, Guest.Arith(m) & (CF | AF));
    }

    [Fact]
    public void DasBorrows()
    {
        using var m = Guest.Real(a => { a.mov(al, 0x10); a.sub(al, 0x20); a.das(); });
        Assert.Equal(0x90u, m.Cpu.State.Eax & 0xFF);
        Assert.Equal(CF, Guest.Arith(m) & CF);
    }

    [Fact]
    public void AaaCarriesIntoAh()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x0009); a.add(al, 3); a.aaa(); });
        Assert.Equal(0x0102u, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(CF | AF, Guest.Arith(m) & (CF | AF));
    }

    [Fact]
    public void AaaWithoutAdjustClearsCarry()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x0135); a.stc(); a.aaa(); });
        Assert.Equal(0x0105u, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(0u, Guest.Arith(m) & (CF | AF));
    }

    [Fact]
    public void AasBorrowsFromAhTwiceWhenAlUnderflows()
    {
        // SDM: AX = AX - 6, then AH = AH - 1 (the 80286 vectors agree).
        using var m = Guest.Real(a => { a.mov(ah, 0x10); a.sahf(); a.mov(ax, 0x0203); a.aas(); });
        Assert.Equal(0x000Du, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(CF | AF, Guest.Arith(m) & (CF | AF));
    }

    [Fact]
    public void AasSimple()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x0512); a.sub(al, 0x04); a.aas(); });
        Assert.Equal(0x0408u, m.Cpu.State.Eax & 0xFFFF);
    }

    [Fact]
    public void Aam()
    {
        using var m = Guest.Real(a => { a.mov(al, 79); a.aam(10); });
        Assert.Equal(0x0709u, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(PF, Guest.Arith(m) & (ZF | SF | PF));
    }

    [Fact]
    public void AamZeroRaisesDivideError()
    {
        using var m = Guest.Real(a => a.db(0xD4, 0x00), s => s.Eax = 0x1234);
        Assert.Equal(Execution.Vectors.DE, Guest.Exception(m));
        Assert.Equal(0x1234u, m.Cpu.State.Eax);
    }

    [Fact]
    public void Aad()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x0709); a.aad(10); });
        Assert.Equal(79u, m.Cpu.State.Eax & 0xFFFF);
    }

    [Fact]
    public void AadOtherBase()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x0203); a.aad(16); });
        Assert.Equal(0x23u, m.Cpu.State.Eax & 0xFFFF);
    }
}
