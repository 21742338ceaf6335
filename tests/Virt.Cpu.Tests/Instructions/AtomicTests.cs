using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>CMPXCHG, CMPXCHG8B, XADD, BSWAP.</summary>
public class AtomicTests
{
    [Fact]
    public void CmpxchgEqualStoresSource()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 5);
            a.mov(eax, 5); a.mov(ecx, 9);
            a.@lock.cmpxchg(__dword_ptr[Guest.Data], ecx);
        });
        Assert.Equal(9u, m.Read32(Guest.Data));
        Assert.Equal(5u, m.Cpu.State.Eax);
        Assert.Equal(ZF, Guest.Flag(m, ZF));
    }

    [Fact]
    public void CmpxchgNotEqualLoadsAccumulator()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 7);
            a.mov(eax, 5); a.mov(ecx, 9);
            a.cmpxchg(__dword_ptr[Guest.Data], ecx);
        });
        Assert.Equal(7u, m.Read32(Guest.Data));
        Assert.Equal(7u, m.Cpu.State.Eax);
        Assert.Equal(0u, Guest.Flag(m, ZF));
        Assert.Equal(CF, Guest.Flag(m, CF)); // flags of CMP eax(5), dest(7)
    }

    [Fact]
    public void CmpxchgByteRegister()
    {
        using var m = Guest.Flat(a => { a.mov(eax, 0x1111_1133); a.mov(ebx, 0x33); a.mov(ecx, 0x44); a.cmpxchg(bl, cl); });
        Assert.Equal(0x44u, m.Cpu.State.Ebx);
        Assert.Equal(ZF, Guest.Flag(m, ZF));
    }

    [Fact]
    public void Cmpxchg8bEqual()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 1); a.mov(__dword_ptr[Guest.Data + 4], 2);
            a.mov(eax, 1); a.mov(edx, 2); a.mov(ebx, 3); a.mov(ecx, 4);
            a.@lock.cmpxchg8b(__qword_ptr[Guest.Data]);
        });
        Assert.Equal(3u, m.Read32(Guest.Data));
        Assert.Equal(4u, m.Read32(Guest.Data + 4));
        Assert.Equal(ZF, Guest.Flag(m, ZF));
    }

    [Fact]
    public void Cmpxchg8bNotEqual()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 1); a.mov(__dword_ptr[Guest.Data + 4], 2);
            a.mov(eax, 0); a.mov(edx, 2); a.mov(ebx, 3); a.mov(ecx, 4);
            a.cmpxchg8b(__qword_ptr[Guest.Data]);
        });
        Assert.Equal(1u, m.Read32(Guest.Data));
        Assert.Equal(1u, m.Cpu.State.Eax);
        Assert.Equal(2u, m.Cpu.State.Edx);
        Assert.Equal(0u, Guest.Flag(m, ZF));
    }

    [Fact]
    public void XaddExchangesAndAdds()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 0xFFFF_FFFF);
            a.mov(ecx, 1);
            a.@lock.xadd(__dword_ptr[Guest.Data], ecx);
        });
        Assert.Equal(0u, m.Read32(Guest.Data));
        Assert.Equal(0xFFFF_FFFFu, m.Cpu.State.Ecx);
        Assert.Equal(CF | ZF, Guest.Arith(m) & (CF | ZF));
    }

    [Fact]
    public void XaddRegisters16()
    {
        using var m = Guest.Flat(a => { a.mov(eax, 0xAAAA_0003); a.mov(ebx, 0xBBBB_0004); a.xadd(ax, bx); });
        Assert.Equal(0xAAAA_0007u, m.Cpu.State.Eax);
        Assert.Equal(0xBBBB_0003u, m.Cpu.State.Ebx);
    }

    [Fact]
    public void Bswap()
    {
        using var m = Guest.Flat(a => { a.mov(esi, 0x1234_5678); a.bswap(esi); });
        Assert.Equal(0x7856_3412u, m.Cpu.State.Esi);
    }
}
