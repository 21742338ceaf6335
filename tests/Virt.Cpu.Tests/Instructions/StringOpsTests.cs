using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.State.Flags;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE, DF, overrides and both address sizes.</summary>
public class StringOpsTests
{
    private const uint Src = Guest.Data, Dst = Guest.Data + 0x1000;

    [Fact]
    public void RepMovsbCopiesForward()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Src], 0x6C6C_6568); a.mov(__byte_ptr[Src + 4], 0x6F); // "hello"
            a.mov(esi, Src); a.mov(edi, Dst); a.mov(ecx, 5); a.cld();
            a.rep.movsb();
        });
        var buf = new byte[5];
        m.Memory.Read(Dst, buf);
        Assert.Equal("hello"u8.ToArray(), buf);
        Assert.Equal(0u, m.Cpu.State.Ecx);
        Assert.Equal(Src + 5, m.Cpu.State.Esi);
        Assert.Equal(Dst + 5, m.Cpu.State.Edi);
    }

    [Fact]
    public void RepMovsdBackwardWithDirectionFlag()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Src], 0x1111_1111); a.mov(__dword_ptr[Src + 4], 0x2222_2222);
            a.mov(esi, Src + 4); a.mov(edi, Dst + 4); a.mov(ecx, 2);
            a.std(); a.rep.movsd(); a.cld();
        });
        Assert.Equal(0x1111_1111u, m.Read32(Dst));
        Assert.Equal(0x2222_2222u, m.Read32(Dst + 4));
        Assert.Equal(Src - 4, m.Cpu.State.Esi);
        Assert.Equal(Dst - 4, m.Cpu.State.Edi);
    }

    [Fact]
    public void RepStoswWithOperandSizePrefix()
    {
        using var m = Guest.Flat(a => { a.mov(eax, 0xAAAA_BEEF); a.mov(edi, Dst); a.mov(ecx, 3); a.cld(); a.rep.stosw(); });
        Assert.Equal(0xBEEF_BEEFu, m.Read32(Dst));
        Assert.Equal(0x0000_BEEFu, m.Read32(Dst + 4));
        Assert.Equal(Dst + 6, m.Cpu.State.Edi);
    }

    [Fact]
    public void RepWithZeroCountDoesNothing()
    {
        using var m = Guest.Flat(a => { a.mov(edi, Dst); a.xor(ecx, ecx); a.mov(eax, 7); a.rep.stosd(); });
        Assert.Equal(0u, m.Read32(Dst));
        Assert.Equal(Dst, m.Cpu.State.Edi);
    }

    [Fact]
    public void RepeCmpsbStopsAtFirstDifference()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Src], 0x4443_4241); a.mov(__dword_ptr[Dst], 0x4458_4241);
            a.mov(esi, Src); a.mov(edi, Dst); a.mov(ecx, 4); a.cld();
            a.repe.cmpsb();
        });
        Assert.Equal(1u, m.Cpu.State.Ecx);
        Assert.Equal(Src + 3, m.Cpu.State.Esi);
        Assert.Equal(0u, Guest.Flag(m, ZF));
        Assert.Equal(CF, Guest.Flag(m, CF)); // 'C' < 'X'
    }

    [Fact]
    public void RepneScasbFindsByte()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(__dword_ptr[Dst], 0x0033_2211);
            a.mov(edi, Dst); a.mov(ecx, 100); a.mov(al, 0x33); a.cld();
            a.repne.scasb();
        });
        Assert.Equal(Dst + 3, m.Cpu.State.Edi);
        Assert.Equal(97u, m.Cpu.State.Ecx);
        Assert.Equal(ZF, Guest.Flag(m, ZF));
    }

    [Fact]
    public void LodsdAndSegmentOverride()
    {
        using var m = Guest.Flat(a => { a.mov(__dword_ptr[Src], 0xCAFE_F00D); a.mov(esi, Src); a.cld(); a.lodsd(); a.mov(esi, Src); a.db(0x26); a.lodsb(); });
        Assert.Equal(0xCAFE_F00Du & 0xFFFF_FF00 | 0x0D, m.Cpu.State.Eax);
        Assert.Equal(Src + 1, m.Cpu.State.Esi);
    }

    [Fact]
    public void AddressSizePrefixUsesCxSiDiAndKeepsUpperHalves()
    {
        // 67 F3 A4 in 32-bit code: rep movsb with CX, SI, DI.
        using var m = Guest.Flat(a => { a.cld(); a.db(0x67, 0xF3, 0xA4); },
            s => { s.Ecx = 0x1234_0003; s.Esi = 0xAAAA_0010; s.Edi = 0xBBBB_0020; });
        Assert.Equal(0x1234_0000u, m.Cpu.State.Ecx);
        Assert.Equal(0xAAAA_0013u, m.Cpu.State.Esi);
        Assert.Equal(0xBBBB_0023u, m.Cpu.State.Edi);
    }

    [Fact]
    public void RealModeRepMovswBetweenSegments()
    {
        using var m = Guest.Real(a =>
        {
            a.mov(__word_ptr[0x10], 0x1234); a.mov(__word_ptr[0x12], 0x5678);
            a.mov(si, 0x10); a.mov(di, 0x20); a.mov(cx, 2); a.cld();
            a.rep.movsw();
        });
        Assert.Equal(0x5678_1234u, m.Read32(0x40020)); // ES = 0x4000
        Assert.Equal(0x14u, m.Cpu.State.Esi);
    }

    [Fact]
    public void RealModeIndexWrapsAt64K()
    {
        using var m = Guest.Real(a => { a.mov(si, 0xFFFF); a.cld(); a.lodsb(); });
        Assert.Equal(0u, m.Cpu.State.Esi);
        Assert.Null(Guest.Exception(m));
    }

    [Fact]
    public void RealModeWordAtSegmentEndRaisesGp()
    {
        using var m = Guest.Real(a => { a.mov(si, 0xFFFF); a.cld(); a.lodsw(); });
        Assert.Equal(Execution.Vectors.GP, Guest.Exception(m));
        Assert.Equal(0xFFFFu, m.Cpu.State.Esi);
    }

    [Fact]
    public void RealModeStackWordAtSegmentEndRaisesSs()
    {
        using var m = Guest.Real(a => { a.mov(bp, 0xFFFF); a.mov(ax, __word_ptr[bp]); });
        Assert.Equal(Execution.Vectors.SS, Guest.Exception(m));
    }

    [Fact]
    public void InsAndOutsUsePorts()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(edi, Dst); a.mov(dx, 0x60); a.mov(ecx, 2); a.cld(); a.rep.insb();
            a.mov(esi, Dst); a.mov(dx, 0xE9); a.mov(ecx, 2); a.rep.outsb();
        });
        Assert.Equal(0xFFFFu, m.Read32(Dst));
        Assert.Equal(2, m.Console.Length);
        _ = Flags.DF;
    }
}
