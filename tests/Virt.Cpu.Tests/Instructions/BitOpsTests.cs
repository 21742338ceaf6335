using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>BT/BTS/BTR/BTC on registers and bit strings in memory; BSF/BSR.</summary>
public class BitOpsTests
{
    [Fact]
    public void BtRegisterImmediate()
    {
        using var m = Guest.Flat(a => a.bt(eax, 5), s => s.Eax = 0x20);
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void BtsRegisterOffsetIsMaskedForRegisterOperand()
    {
        using var m = Guest.Flat(a => a.bts(ebx, ecx), s => { s.Ebx = 0; s.Ecx = 35; });
        Assert.Equal(8u, m.Cpu.State.Ebx);
        Assert.Equal(0u, Guest.Flag(m, CF));
    }

    [Fact]
    public void BtMemoryWithLargeRegisterOffsetAddressesABitString()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data + 12], 0x10);
            a.mov(ecx, 100);
            a.bt(__dword_ptr[Guest.Data], ecx);
        });
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void BtrMemoryWithNegativeOffsetReachesBelowTheOperand()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data - 4], 0x8000_0001);
            a.mov(ecx, -1);
            a.btr(__dword_ptr[Guest.Data], ecx);
        });
        Assert.Equal(1u, m.Read32(Guest.Data - 4));
        Assert.Equal(CF, Guest.Flag(m, CF));
    }

    [Fact]
    public void BtcMemoryImmediateIsMaskedToOperandSize()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 0);
            a.btc(__dword_ptr[Guest.Data], 33);
        });
        Assert.Equal(2u, m.Read32(Guest.Data));
        Assert.Equal(0u, Guest.Flag(m, CF));
    }

    [Fact]
    public void Bts16BitOperand()
    {
        using var m = Guest.Flat(a => a.bts(ax, 17), s => s.Eax = 0xFFFF_0000);
        Assert.Equal(0xFFFF_0002u, m.Cpu.State.Eax);
    }

    [Fact]
    public void BsfBsr()
    {
        using var m = Guest.Flat(a => { a.bsf(eax, ebx); a.bsr(ecx, ebx); }, s => s.Ebx = 0x8000_0080);
        Assert.Equal(7u, m.Cpu.State.Eax);
        Assert.Equal(31u, m.Cpu.State.Ecx);
        Assert.Equal(0u, Guest.Flag(m, ZF));
    }

    [Fact]
    public void BsfOfZeroSetsZfAndLeavesDestination()
    {
        using var m = Guest.Flat(a => a.bsf(eax, ebx), s => { s.Eax = 0x1234; s.Ebx = 0; });
        Assert.Equal(ZF, Guest.Flag(m, ZF));
        Assert.Equal(0x1234u, m.Cpu.State.Eax);
    }
}
