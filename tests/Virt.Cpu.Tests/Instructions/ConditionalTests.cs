using Iced.Intel;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>SETcc and CMOVcc for all sixteen conditions after a CMP with known flags.</summary>
public class ConditionalTests
{
    // cmp a, b then each condition; expected truth for (a, b) = (1, 2): CF SF set, ZF OF clear; PF of 0xFF = 1.
    private static readonly (Action<Assembler, AssemblerRegister8> Set, bool Expected)[] s_setcc =
    [
        ((a, r) => a.seto(r), false), ((a, r) => a.setno(r), true), ((a, r) => a.setb(r), true), ((a, r) => a.setae(r), false),
        ((a, r) => a.sete(r), false), ((a, r) => a.setne(r), true), ((a, r) => a.setbe(r), true), ((a, r) => a.seta(r), false),
        ((a, r) => a.sets(r), true), ((a, r) => a.setns(r), false), ((a, r) => a.setp(r), true), ((a, r) => a.setnp(r), false),
        ((a, r) => a.setl(r), true), ((a, r) => a.setge(r), false), ((a, r) => a.setle(r), true), ((a, r) => a.setg(r), false),
    ];

    [Fact]
    public void SetccAllConditions()
    {
        for (int cc = 0; cc < 16; cc++)
        {
            var (set, expected) = s_setcc[cc];
            using var m = Guest.Flat(a => { a.mov(eax, 1); a.cmp(eax, 2); a.mov(ebx, 0xFFFF_FF55); set(a, bl); });
            Assert.True((expected ? 0xFFFF_FF01u : 0xFFFF_FF00u) == m.Cpu.State.Ebx, $"condition {cc}");
        }
    }

    [Fact]
    public void SetccToMemory()
    {
        using var m = Guest.Flat(a => { a.xor(eax, eax); a.mov(__dword_ptr[Guest.Data], -1); a.sete(__byte_ptr[Guest.Data]); });
        Assert.Equal(0xFFFF_FF01u, m.Read32(Guest.Data));
    }

    [Fact]
    public void SignedVersusUnsigned()
    {
        // -1 vs 1: below is false (unsigned FFFFFFFF > 1), less is true.
        using var m = Guest.Flat(a => { a.mov(eax, -1); a.cmp(eax, 1); a.setb(cl); a.setl(dl); a.setg(bh); a.seta(dh); });
        Assert.Equal(0u, m.Cpu.State.Ecx & 0xFF);
        Assert.Equal(1u, m.Cpu.State.Edx & 0xFF);
        Assert.Equal(0u, (m.Cpu.State.Ebx >> 8) & 0xFF);
        Assert.Equal(1u, (m.Cpu.State.Edx >> 8) & 0xFF);
    }

    [Fact]
    public void CmovTakenAndNotTaken()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(eax, 1); a.mov(ebx, 2); a.mov(ecx, 10); a.mov(edx, 20);
            a.cmp(eax, ebx);
            a.cmovl(ecx, ebx);   // taken
            a.cmovg(edx, ebx);   // not taken
        });
        Assert.Equal(2u, m.Cpu.State.Ecx);
        Assert.Equal(20u, m.Cpu.State.Edx);
    }

    [Fact]
    public void Cmov16FromMemoryKeepsUpperHalf()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Guest.Data], 0xBEEF);
            a.mov(eax, 0x1111_2222);
            a.stc();
            a.cmovb(ax, __word_ptr[Guest.Data]);
        });
        Assert.Equal(0x1111_BEEFu, m.Cpu.State.Eax);
    }

    [Fact]
    public void CmovNotTakenStillZeroExtendsNothingFor32()
    {
        using var m = Guest.Flat(a => { a.mov(eax, 0x1234_5678); a.clc(); a.cmovb(eax, ebx); }, s => s.Ebx = 9);
        Assert.Equal(0x1234_5678u, m.Cpu.State.Eax);
    }
}
