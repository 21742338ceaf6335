using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// An instruction whose bytes cross a page end is decoded once and cached under both physical
/// pages: a hot loop through it must not decode it again, a write to either page must be seen at
/// the next execution (self-modifying code), and a new mapping of the second page must be fetched
/// from the new physical page. Every engine, since each one hands such instructions to the
/// interpreter.
/// </summary>
public class PageStraddleTests
{
    // ADD EAX, imm32 (05 id) placed so that its immediate crosses into the next page: the opcode
    // and immediate bytes 0-1 at 0x101FFD-0x101FFF, bytes 2-3 at 0x102000-0x102001, then RET.
    private const uint Straddler = 0x10_1FFD, FirstImmByte = 0x10_1FFE, SecondPage = 0x10_2000;

    private static void LoadStraddler(Virt.Cpu.Memory.PhysicalMemory memory)
    {
        memory.Load(Straddler, [0x05, 0x01, 0x00, 0x00, 0x00, 0xC3]);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_hot_loop_decodes_the_instruction_across_the_page_end_once(string engine)
    {
        using var m = Guest.Flat(a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 1000);
            a.Label(ref top);
            a.call(Straddler);
            a.dec(ecx);
            a.jne(top);
        }, memory: LoadStraddler, engine: engine);
        Assert.Null(Guest.Exception(m));
        Assert.Equal(1000u, m.Cpu.State.Eax);
        Assert.True(m.Cpu.BlocksDecoded < 10, $"{m.Cpu.BlocksDecoded} blocks decoded for a loop of three blocks");
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Writes_to_either_page_of_the_instruction_are_seen_at_its_next_execution(string engine)
    {
        using var m = Guest.Flat(a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.Label(ref top);
            a.call(Straddler);
            a.mov(__byte_ptr[SecondPage], cl);   // immediate byte 2, in the second page
            a.mov(__byte_ptr[FirstImmByte], cl); // immediate byte 0, in the first page
            a.dec(ecx);
            a.jne(top);
        }, memory: LoadStraddler, engine: engine);
        Assert.Null(Guest.Exception(m));
        // The first pass adds 1; each later pass adds c | c << 16 for the c the pass before wrote.
        uint expected = 1 + 0x1_0001u * (uint)Enumerable.Range(2, 99).Sum();
        Assert.Equal(expected, m.Cpu.State.Eax);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_new_mapping_of_the_second_page_is_fetched_from_the_new_physical_page(string engine)
    {
        const uint pageDirectory = 0x30_0000, pageTable = 0x30_1000, otherPage = 0x15_0000;
        using var m = Guest.Flat(a =>
        {
            var mapped = a.CreateLabel();
            a.mov(eax, pageDirectory);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x8000_0000));
            a.mov(cr0, eax);
            a.jmp(mapped);
            a.Label(ref mapped);
            a.xor(eax, eax);
            for (int i = 0; i < 3; i++) a.call(Straddler);            // 3 x 0x0000_0001
            a.mov(__dword_ptr[pageTable + (SecondPage >> 12) * 4], otherPage | 3);
            a.invlpg(__[SecondPage]);
            for (int i = 0; i < 3; i++) a.call(Straddler);            // 3 x 0x0005_0001
            a.mov(__dword_ptr[pageTable + (SecondPage >> 12) * 4], SecondPage | 3);
            a.mov(edx, cr3);
            a.mov(cr3, edx);
            for (int i = 0; i < 3; i++) a.call(Straddler);            // 3 x 0x0000_0001
        }, memory: mem =>
        {
            LoadStraddler(mem);
            mem.Load(otherPage, [0x05, 0x00, 0xC3]); // immediate bytes 2-3 = 5, 0, then RET
            mem.Write32(pageDirectory, pageTable | 3);
            for (uint i = 0; i < 1024; i++) mem.Write32(pageTable + i * 4, i << 12 | 3);
        }, engine: engine);
        Assert.Null(Guest.Exception(m));
        Assert.Equal(6 + 3 * 0x5_0001u, m.Cpu.State.Eax);
    }

    /// <summary>
    /// A block that falls through into the instruction across the page end (native code links the
    /// two within the first page), and a loop that rewrites the instruction's bytes in the second
    /// page: every pass must see the new immediate, never the old code through the link.
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_block_falling_through_into_the_instruction_sees_writes_to_its_second_page(string engine)
    {
        const uint loop = 0x10_1FF8; // five NOPs, then the ADD EAX, imm32 at 0x101FFD
        using var m = Guest.Flat(a =>
        {
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.call(loop);
        }, memory: mem =>
        {
            var a = new Iced.Intel.Assembler(32);
            var top = a.CreateLabel();
            a.Label(ref top);
            for (int i = 0; i < 5; i++) a.nop();
            a.db(0x05, 0x01, 0x00, 0x00, 0x00);   // ADD EAX, 1 in its imm32 form, across the page end
            a.mov(__byte_ptr[SecondPage], cl);    // immediate byte 2
            a.dec(ecx);
            a.jne(top);
            a.ret();
            mem.Load(loop, TestMachine.Assemble(a, loop));
        }, engine: engine);
        Assert.Null(Guest.Exception(m));
        // Each pass adds 1 | c << 16 for the c the pass before wrote (0 for the first).
        uint expected = 100 + 0x1_0000u * (uint)Enumerable.Range(2, 99).Sum();
        Assert.Equal(expected, m.Cpu.State.Eax);
    }
}
