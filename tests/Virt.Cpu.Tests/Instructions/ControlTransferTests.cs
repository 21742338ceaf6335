using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>Near/far CALL, JMP, RET (with pop count), LOOP/JCXZ, INT/IRET in real mode.</summary>
public class ControlTransferTests
{
    [Fact]
    public void CallAndRetWithImmediate()
    {
        using var m = Guest.Flat(a =>
        {
            var f = a.CreateLabel(); var done = a.CreateLabel();
            a.push(1); a.push(2);
            a.call(f);
            a.mov(ebx, esp);
            a.jmp(done);
            a.Label(ref f);
            a.mov(eax, __dword_ptr[esp + 4]);
            a.ret(8);
            a.Label(ref done);
        });
        Assert.Equal(2u, m.Cpu.State.Eax);
        Assert.Equal(0x9_0000u, m.Cpu.State.Ebx);
    }

    [Fact]
    public void IndirectCallThroughRegisterAndMemory()
    {
        // The callee (inc ecx; ret) sits at a fixed address outside the snippet.
        using var m = Guest.Flat(a =>
        {
            a.mov(ebx, 0x30_0000);
            a.mov(__dword_ptr[Guest.Data], ebx);
            a.xor(ecx, ecx);
            a.call(ebx);
            a.call(__dword_ptr[Guest.Data]);
        }, memory: mem => mem.Load(0x30_0000, [0x41, 0xC3]));
        Assert.Equal(2u, m.Cpu.State.Ecx);
    }

    [Fact]
    public void LoopCountsDownAndJecxzSkips()
    {
        using var m = Guest.Flat(a =>
        {
            var top = a.CreateLabel(); var skip = a.CreateLabel();
            a.mov(ecx, 5); a.xor(eax, eax);
            a.Label(ref top);
            a.add(eax, 2);
            a.loop(top);
            a.jecxz(skip);
            a.mov(eax, 0xBAD);
            a.Label(ref skip);
        });
        Assert.Equal(10u, m.Cpu.State.Eax);
        Assert.Equal(0u, m.Cpu.State.Ecx);
    }

    [Fact]
    public void LoopeStopsWhenZeroFlagClears()
    {
        using var m = Guest.Flat(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 10); a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.cmp(eax, 3);
            a.loopne(top);
        });
        Assert.Equal(3u, m.Cpu.State.Eax);
        Assert.Equal(7u, m.Cpu.State.Ecx);
    }

    [Fact]
    public void RealModeShortJumpWrapsWithinSegment()
    {
        // JMP from 1000:0100 to an offset that wraps: target IP = (0x103 + disp) & 0xFFFF.
        // jmp rel16 at 0100: 0x0103 + 0xFF4D = 0x10050, which wraps to 0050.
        using var m = Guest.Real(a => a.db(0xE9, 0x4D, 0xFF), memory: mem => mem.Load(0x1_0000 + 0x50, [0xF4]));
        Assert.Equal(0x51u, m.Cpu.State.Eip);
        Assert.Equal(0x1000u, m.Cpu.State.Cs.Selector);
    }

    [Fact]
    public void RealModeFarCallAndRetf()
    {
        using var m2 = Guest.Real(a =>
        {
            a.mov(ax, 0x5000); a.mov(es, ax);
            a.mov(__dword_ptr.es[0], 0xCB00_77B8);
            a.db(0x9A, 0x00, 0x00, 0x00, 0x50);
            a.mov(bx, sp);
        });
        Assert.Equal(0x77u, m2.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(0xFFFEu, m2.Cpu.State.Ebx & 0xFFFF);
        Assert.Equal(0x1000u, m2.Cpu.State.Cs.Selector);
    }

    [Fact]
    public void RealModeIntAndIret()
    {
        using var m = Guest.Real(a =>
        {
            // Vector 0x40 -> 0000:0700: inc cx; iret.
            a.xor(ax, ax); a.mov(ds, ax);
            a.mov(__word_ptr[0x40 * 4], 0x700); a.mov(__word_ptr[0x40 * 4 + 2], 0);
            a.mov(__word_ptr[0x700], 0xCF41);
            a.xor(cx, cx);
            a.stc();
            a.@int(0x40);
            a.@int(0x40);
            a.pushf(); a.pop(dx);
        });
        Assert.Equal(2u, m.Cpu.State.Ecx & 0xFFFF);
        Assert.Equal(1u, m.Cpu.State.Edx & 1); // IRET restored CF
        Assert.Equal(0xFFFEu, m.Cpu.State.Esp);
    }

    [Fact]
    public void RealModeFarJumpIndirect()
    {
        using var m = Guest.Real(a =>
        {
            a.mov(__word_ptr[0x20], 0x0010); a.mov(__word_ptr[0x22], 0x6000);
            a.mov(ax, 0x6000); a.mov(es, ax);
            a.mov(__byte_ptr.es[0x10], 0xF4);
            a.jmp(__dword_ptr[0x20]);
        });
        Assert.Equal(0x6000u, m.Cpu.State.Cs.Selector);
        Assert.Equal(0x11u, m.Cpu.State.Eip);
    }
}
