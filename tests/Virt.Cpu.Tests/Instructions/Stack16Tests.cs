using Iced.Intel;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// A 16-bit stack segment (SS.B = 0) under 32-bit code in protected mode: every stack access
/// addresses SS:SP, SP wraps within 64 KiB, and the upper half of ESP stays as it was (SDM vol. 1
/// 6.2.3 and the PUSH/POP pseudo-code: StackAddrSize 16). With ESP = 0x20000, PUSH EAX writes at
/// SS:0xFFFC and leaves ESP = 0x2FFFC. The guest writes what it saw to a result area.
/// </summary>
public class Stack16Tests
{
    private const uint R = 0x6_0000;
    private const ushort Stack16 = 0x18;

    private static TestMachine Run(string engine, Action<Assembler> body) =>
        Guest.Flat(a =>
        {
            a.mov(ax, Stack16);
            a.mov(ss, ax);
            body(a);
            a.mov(ax, 0x10);
            a.mov(ss, ax);
            a.mov(esp, 0x9_0000);
        },
        s => s.Gdtr = new State.DescriptorTableRegister { Base = 0x800, Limit = 31 },
        mem => mem.Write64(0x800 + 3 * 8, Descriptors.Segment(0, 0xFFFF, 0x92, 0)), // base 0, limit 64 KiB, B = 0
        engine);

    private static void Store(Assembler a, int slot, AssemblerRegister32 r) => a.mov(__dword_ptr[R + (uint)slot * 4], r);

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void PushAndPopAddressSsSpAndKeepTheUpperHalfOfEsp(string engine)
    {
        using var m = Run(engine, a =>
        {
            a.mov(esp, 0x2_0000);
            a.mov(eax, 0x2_0000);
            a.mov(__dword_ptr[0xFFFC], 0xDEAD_BEEF); // DS is flat: linear 0xFFFC is SS:0xFFFC
            a.push(eax);
            Store(a, 0, esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 1, ebx);
            a.mov(__dword_ptr[0xFFFC], 0x1234_5678);
            a.pop(ecx);
            Store(a, 2, ecx); Store(a, 3, esp);

            a.mov(eax, 0x1234_ABCD);
            a.mov(__dword_ptr[0xFFFC], 0xDEAD_BEEF);
            a.push(ax);
            Store(a, 4, esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 5, ebx);
            a.mov(edx, 0x5555_0000);
            a.pop(dx);
            Store(a, 6, edx); Store(a, 7, esp);

            a.push(esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 8, ebx);
            a.pop(esp);
            Store(a, 9, esp);
        });
        Assert.Equal(0x2FFFCu, m.Read32(R));
        Assert.Equal(0x2_0000u, m.Read32(R + 4));
        Assert.Equal(0x1234_5678u, m.Read32(R + 8));
        Assert.Equal(0x2_0000u, m.Read32(R + 12));
        Assert.Equal(0x2FFFEu, m.Read32(R + 16));
        Assert.Equal(0xABCD_BEEFu, m.Read32(R + 20));
        Assert.Equal(0x5555_ABCDu, m.Read32(R + 24));
        Assert.Equal(0x2_0000u, m.Read32(R + 28));
        Assert.Equal(0x2_0000u, m.Read32(R + 32)); // PUSH ESP pushes the value before the push
        Assert.Equal(0x2_0000u, m.Read32(R + 36)); // POP ESP loads the popped value whole
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void SegmentMemoryFlagsCallPushadAndLeaveUseSpToo(string engine)
    {
        using var m = Run(engine, a =>
        {
            var sub = a.CreateLabel();
            var over = a.CreateLabel();
            a.mov(esp, 0x2_0000);
            a.mov(__dword_ptr[0xFFFC], 0xDEAD_BEEF);
            a.push(ds); // o32
            Store(a, 0, esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 1, ebx);
            a.pop(ds);
            Store(a, 2, esp);

            a.mov(esi, 0x1_FFF8);
            a.mov(__dword_ptr[esi], 0x1122_3344);
            a.push(__dword_ptr[esi]);
            Store(a, 3, esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 4, ebx);
            a.pop(__dword_ptr[R + 5 * 4]);
            Store(a, 6, esp);

            a.pushfd();
            Store(a, 7, esp);
            a.popfd();
            Store(a, 8, esp);

            a.call(sub);
            Store(a, 10, esp);
            a.jmp(over);
            a.Label(ref sub);
            Store(a, 9, esp);
            a.ret();
            a.Label(ref over);

            a.pushad();
            Store(a, 11, esp);
            a.popad();
            Store(a, 12, esp);

            a.mov(ebp, 0x5555_FFF8);
            a.mov(__dword_ptr[0xFFF8], 0xCAFE_BABE);
            a.leave(); // SP := BP (ESP's upper half kept), then POP EBP at SS:0xFFF8
            Store(a, 13, ebp); Store(a, 14, esp);
        });
        Assert.Equal(0x2FFFCu, m.Read32(R));
        Assert.Equal(0x10u, m.Read32(R + 4) & 0xFFFF);
        Assert.Equal(0x2_0000u, m.Read32(R + 8));
        Assert.Equal(0x2FFFCu, m.Read32(R + 12));
        Assert.Equal(0x1122_3344u, m.Read32(R + 16));
        Assert.Equal(0x1122_3344u, m.Read32(R + 20));
        Assert.Equal(0x2_0000u, m.Read32(R + 24));
        Assert.Equal(0x2FFFCu, m.Read32(R + 28));
        Assert.Equal(0x2_0000u, m.Read32(R + 32));
        Assert.Equal(0x2FFFCu, m.Read32(R + 36));
        Assert.Equal(0x2_0000u, m.Read32(R + 40));
        Assert.Equal(0x2FFE0u, m.Read32(R + 44));
        Assert.Equal(0x2_0000u, m.Read32(R + 48));
        Assert.Equal(0xCAFE_BABEu, m.Read32(R + 52));
        Assert.Equal(0x2FFFCu, m.Read32(R + 56));
    }
    /// <summary>
    /// POP SS increments the stack pointer by the size of the stack it popped from, not the one it
    /// loads: from a 16-bit stack at SP 0xFFFC, SP wraps to 0 (ESP 0x2FFFC becomes 0x20000); from a
    /// 32-bit stack ESP 0x1FFFC becomes 0x20000 even though the new SS is 16-bit.
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void PopSsStepsTheStackPointerOfTheOldStack(string engine)
    {
        using var m = Run(engine, a =>
        {
            a.mov(esp, 0x2FFFC);
            a.mov(__dword_ptr[0xFFFC], 0x10); // the flat 32-bit data segment
            a.pop(ss);                        // from the 16-bit stack
            Store(a, 0, esp);
            a.mov(eax, ss); Store(a, 1, eax);

            a.mov(esp, 0x1FFFC);
            a.mov(__dword_ptr[0x1FFFC], Stack16);
            a.pop(ss);                        // from the 32-bit stack to the 16-bit one
            Store(a, 2, esp);
            a.mov(eax, ss); Store(a, 3, eax);
        });
        Assert.Equal(0x2_0000u, m.Read32(R));
        Assert.Equal(0x10u, m.Read32(R + 4) & 0xFFFF);
        Assert.Equal(0x2_0000u, m.Read32(R + 8));
        Assert.Equal(Stack16, m.Read32(R + 12) & 0xFFFF);
    }
    /// <summary>The 16-bit forms on a 16-bit stack: PUSHA saves SP (not ESP), POPA and POP SP keep ESP's upper half, immediates and FLAGS.</summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void WordFormsOnA16BitStack(string engine)
    {
        using var m = Run(engine, a =>
        {
            a.mov(esp, 0x2_0000);
            a.mov(ebp, 0xDEAD_0000);
            a.mov(ebx, 0x7777);
            a.pusha();                                          // o16 in 32-bit code
            Store(a, 0, esp);
            a.movzx(ebx, __word_ptr[0xFFF6]); Store(a, 1, ebx); // the SP slot (AX CX DX BX SP ...)
            a.popa();
            Store(a, 2, esp); Store(a, 3, ebp);

            a.mov(__dword_ptr[0xFFFC], 0xDEAD_BEEF);
            a.db(0x66, 0x68, 0x22, 0x11);                       // o16 PUSH imm16
            Store(a, 4, esp);
            a.mov(ebx, __dword_ptr[0xFFFC]); Store(a, 5, ebx);
            a.db(0x66, 0x6A, 0x81);                              // o16 PUSH imm8 (sign-extended to a word)
            Store(a, 6, esp);
            a.movzx(ebx, __word_ptr[0xFFFC]); Store(a, 7, ebx);
            a.mov(esp, 0x2_0000);

            a.pushf();
            Store(a, 8, esp);
            a.popf();
            Store(a, 9, esp);

            a.mov(__word_ptr[0xFFFE], 0x1234);
            a.mov(esp, 0x2FFFE);
            a.pop(sp);                                          // SP := 0x1234, ESP's upper half kept
            Store(a, 10, esp);
        });
        Assert.Equal(0x2FFF0u, m.Read32(R));
        Assert.Equal(0u, m.Read32(R + 4));                       // SP 0000 was pushed
        Assert.Equal(0x2_0000u, m.Read32(R + 8));
        Assert.Equal(0xDEAD_0000u, m.Read32(R + 12));            // BP popped, EBP's upper half kept
        Assert.Equal(0x2FFFEu, m.Read32(R + 16));
        Assert.Equal(0x1122_BEEFu, m.Read32(R + 20));
        Assert.Equal(0x2FFFCu, m.Read32(R + 24));
        Assert.Equal(0xFF81u, m.Read32(R + 28));
        Assert.Equal(0x2FFFEu, m.Read32(R + 32));
        Assert.Equal(0x2_0000u, m.Read32(R + 36));
        Assert.Equal(0x2_1234u, m.Read32(R + 40));
    }
}
