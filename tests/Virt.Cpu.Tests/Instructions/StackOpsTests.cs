using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>PUSH/POP forms, PUSHA/POPA, ENTER/LEAVE with nesting levels.</summary>
public class StackOpsTests
{
    private const uint Sp = 0x9_0000;

    [Fact]
    public void PushadPopadRoundTripAndSavedEsp()
    {
        using var m = Guest.Flat(a =>
        {
            a.mov(eax, 1); a.mov(ecx, 2); a.mov(edx, 3); a.mov(ebx, 4); a.mov(ebp, 6); a.mov(esi, 7); a.mov(edi, 8);
            a.pushad();
            a.mov(eax, 0); a.mov(ecx, 0); a.mov(edx, 0); a.mov(ebx, 0); a.mov(ebp, 0); a.mov(esi, 0); a.mov(edi, 0);
            a.popad();
        });
        var s = m.Cpu.State;
        Assert.Equal([1u, 2, 3, 4, Sp, 6, 7, 8], new[] { s.Eax, s.Ecx, s.Edx, s.Ebx, s.Esp, s.Ebp, s.Esi, s.Edi });
        Assert.Equal(Sp, m.Read32(Sp - 20)); // the saved ESP slot holds ESP before PUSHAD
        Assert.Equal(1u, m.Read32(Sp - 4));
        Assert.Equal(8u, m.Read32(Sp - 32));
    }

    [Fact]
    public void RealModePushaPopa()
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x1111); a.mov(di, 0x8888); a.pusha(); a.xor(ax, ax); a.xor(di, di); a.popa(); });
        Assert.Equal(0x1111u, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(0x8888u, m.Cpu.State.Edi & 0xFFFF);
        Assert.Equal(0xFFFEu, m.Cpu.State.Esp);
        Assert.Equal(0xFFFEu, m.Read32(0x2_0000 + 0xFFFE - 10) & 0xFFFF); // saved SP
    }

    [Fact]
    public void PushEspPushesValueBeforeThePush()
    {
        using var m = Guest.Flat(a => a.push(esp));
        Assert.Equal(Sp, m.Read32(Sp - 4));
    }

    [Fact]
    public void PopMemoryWithEspBaseUsesIncrementedEsp()
    {
        using var m = Guest.Flat(a => { a.push(0x11); a.push(0x22); a.pop(__dword_ptr[esp]); });
        Assert.Equal(Sp - 4, m.Cpu.State.Esp);
        Assert.Equal(0x22u, m.Read32(Sp - 4));
    }

    [Fact]
    public void PushPopSegmentAndWordForms()
    {
        using var m = Guest.Flat(a => { a.push(ds); a.pop(eax); a.push(bx); a.pop(cx); }, s => { s.Ebx = 0xABCD; s.Ecx = 0xFFFF_0000; });
        Assert.Equal(0x10u, m.Cpu.State.Eax);
        Assert.Equal(0xFFFF_ABCDu, m.Cpu.State.Ecx);
        Assert.Equal(Sp, m.Cpu.State.Esp);
    }

    [Fact]
    public void EnterLevelZeroAndLeave()
    {
        using var m = Guest.Flat(a => { a.mov(ebp, 0x1234); a.enter(16, 0); a.mov(ecx, ebp); a.mov(edx, esp); a.leave(); });
        Assert.Equal(Sp - 4, m.Cpu.State.Ecx);
        Assert.Equal(Sp - 4 - 16, m.Cpu.State.Edx);
        Assert.Equal(0x1234u, m.Cpu.State.Ebp);
        Assert.Equal(Sp, m.Cpu.State.Esp);
    }

    [Fact]
    public void EnterNestedCopiesFramePointers()
    {
        // An outer frame with EBP = Sp - 0x100 holding a display entry at [ebp-4].
        using var m = Guest.Flat(a =>
        {
            a.mov(ebp, Sp - 0x100);
            a.mov(__dword_ptr[ebp - 4], 0xD15_D15);
            a.enter(8, 2);
            a.mov(ecx, ebp); a.mov(edx, esp);
        });
        uint frame = Sp - 4;
        Assert.Equal(frame, m.Cpu.State.Ecx);
        Assert.Equal(Sp - 0x100, m.Read32(Sp - 4));     // old EBP
        Assert.Equal(0xD15_D15u, m.Read32(Sp - 8));     // copied from [old ebp - 4]
        Assert.Equal(frame, m.Read32(Sp - 12));         // frame temp
        Assert.Equal(Sp - 12 - 8, m.Cpu.State.Edx);
    }

    [Fact]
    public void RealModeEnterLeave16()
    {
        using var m = Guest.Real(a => { a.mov(bp, 0x4444); a.enter(4, 1); a.mov(cx, bp); a.mov(dx, sp); a.leave(); });
        Assert.Equal(0xFFFCu, m.Cpu.State.Ecx & 0xFFFF);
        Assert.Equal(0xFFFCu - 2 - 4, m.Cpu.State.Edx & 0xFFFF);
        Assert.Equal(0x4444u, m.Cpu.State.Ebp & 0xFFFF);
        Assert.Equal(0xFFFEu, m.Cpu.State.Esp);
    }
}
