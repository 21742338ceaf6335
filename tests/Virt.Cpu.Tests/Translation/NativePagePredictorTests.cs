using Iced.Intel;
using Virt.Cpu.Memory;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Translation;

/// <summary>
/// The native backend's page predictor (each memory operand reuses the TLB entry of its last
/// access, checked against the tag) and its cheap flag copy (LAHF and SETO into the frame, SUB/CMP
/// budget counts on loops whose flags are dead at the top): loops walking through pages mapped out
/// of order, accesses across a page end, and faults in the middle, each run natively and on the
/// reference interpreter. Registers, EFLAGS, EIP, CR2, the fault's stack frame (the pushed EFLAGS
/// included) and the retired count must agree.
/// </summary>
public class NativePagePredictorTests
{
    private const uint PageDirectory = 0x30_0000, PageTable = 0x30_1000;
    // Linear pages Window..Window+3 map to physical pages out of order; Window+4 is not present.
    private const uint Window = 0x28_0000;
    private static readonly uint[] s_physical = [0x34_3000, 0x34_1000, 0x34_6000, 0x34_4000];

    private static void Paging(Assembler a)
    {
        Label on = a.CreateLabel();
        a.mov(eax, PageDirectory);
        a.mov(cr3, eax);
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8001_0000)); // PG and WP: a read-only page faults on a supervisor write
        a.mov(cr0, eax);
        a.jmp(on);
        a.Label(ref on);
        a.xor(eax, eax);
    }

    private static void Tables(PhysicalMemory mem, bool lastReadOnly = false)
    {
        mem.Write32(PageDirectory, PageTable | 3);
        for (uint i = 0; i < 1024; i++) mem.Write32(PageTable + i * 4, i << 12 | 3);
        for (int k = 0; k < s_physical.Length; k++)
        {
            uint flags = lastReadOnly && k == s_physical.Length - 1 ? 1u : 3u;
            mem.Write32(PageTable + ((Window >> 12) + (uint)k) * 4, s_physical[k] | flags);
        }
        mem.Write32(PageTable + ((Window >> 12) + 4) * 4, 0);
        // Every physical dword of the window's pages and their neighbours different: an access that
        // ran on past its page in host memory would read the wrong one.
        for (uint p = 0x34_0000; p < 0x34_8000; p += 4) mem.Write32(p, p * 2654435761u);
    }

    private static TestMachine Run(string engine, Action<Assembler> code, bool lastReadOnly, Action<PhysicalMemory>? extra) =>
        Guest.Flat(a => { Paging(a); code(a); }, s => s.Esp = 0x9_0000, mem => { Tables(mem, lastReadOnly); extra?.Invoke(mem); }, engine);

    private static void AssertSame(Action<Assembler> code, int expectedVector, uint expectedCr2Page, bool lastReadOnly = false,
        Action<PhysicalMemory>? extra = null)
    {
        using var native = Run(Engines.Native, code, lastReadOnly, extra);
        using var reference = Run(Engines.Interpreter, code, lastReadOnly, extra);
        Assert.Equal(expectedVector, Guest.Exception(reference));
        Assert.Equal(expectedCr2Page, reference.Cpu.State.Cr2 >> 12);
        SameState.Registers(reference, native);
        Assert.Equal(reference.Cpu.State.Eflags, native.Cpu.State.Eflags);
        Assert.Equal(reference.Cpu.State.Eip, native.Cpu.State.Eip);
        Assert.Equal(reference.Cpu.State.Cr2, native.Cpu.State.Cr2);
        Assert.Equal(reference.Cpu.InstructionsRetired, native.Cpu.InstructionsRetired);
        // The #PF frame: error code, EIP, CS, EFLAGS (the guest's flags at the faulting instruction).
        for (uint k = 0; k < 16; k += 4)
            Assert.True(reference.Read32(reference.Cpu.State.Esp + k) == native.Read32(native.Cpu.State.Esp + k),
                $"frame +{k}: reference {reference.Read32(reference.Cpu.State.Esp + k):X8} native {native.Read32(native.Cpu.State.Esp + k):X8}");
        Assert.True(native.Cpu.EngineStats.NativeInstructions > 1000, "the loops did not run natively");
    }

    /// <summary>
    /// Byte, word and dword reads walking the window with a step that lands accesses across page
    /// ends (the predicted entry then matches the first page only), a read-modify-write, then a
    /// dword read across the end of the last mapped page: #PF with CR2 on the page not present.
    /// </summary>
    [Fact]
    public void Reads_walking_across_pages_mapped_out_of_order_agree_and_fault_at_the_missing_page()
    {
        AssertSame(a =>
        {
            Label walk = a.CreateLabel(), cross = a.CreateLabel();
            // Offsets from the window in ESI: [ESI + Window] guesses the window's first page.
            a.xor(esi, esi);
            a.mov(ecx, 0x3FF0 / 0x3D);
            a.Label(ref walk);
            a.mov(eax, __dword_ptr[esi + Window]);
            a.add(ebx, eax);
            a.movzx(edx, __word_ptr[esi + Window + 1]);
            a.xor(edi, edx);
            a.movsx(edx, __byte_ptr[esi * 2 + Window + 3]); // an index: up to twice as far
            a.add(ebp, edx);
            a.mov(edx, __dword_ptr[esi + Window]);        // the plain lookup (a base, no displacement)
            a.add(ebp, edx);
            a.add(__dword_ptr[Guest.Data], ebx);          // identity-mapped: its own site and page
            a.mov(__dword_ptr[esp + 4], ebx);             // the stack, predicted from its slot
            a.add(edi, __dword_ptr[esp + 4]);
            a.add(esi, 0x1F);
            a.dec(ecx);
            a.jnz(walk);
            a.mov(esi, 0x3FF0);
            a.Label(ref cross);
            a.mov(eax, __dword_ptr[esi + Window]);        // the last pass reads 0x3FFE-0x4001: #PF
            a.add(ebx, eax);
            a.add(esi, 2);
            a.jmp(cross);
        }, expectedVector: 14, expectedCr2Page: (Window >> 12) + 4);
    }

    /// <summary>
    /// Which lookup a copied instruction makes comes from its row in the operation table
    /// (Execution/OperationTable.cs): CMP, TEST and BT only read their memory operand, so a loop of
    /// them over the read-only last page of the window runs without a fault; the ADD after it
    /// writes and faults there (error code: present, write).
    /// </summary>
    [Fact]
    public void Compare_test_and_bit_test_only_read_a_read_only_page_and_an_add_to_it_faults()
    {
        const uint ReadOnlyPage = Window + 3 * 0x1000;
        AssertSame(a =>
        {
            Label loop = a.CreateLabel();
            a.mov(ecx, 3000);
            a.xor(esi, esi);
            a.Label(ref loop);
            a.cmp(__dword_ptr[esi + ReadOnlyPage], ecx);
            a.adc(ebx, 0);
            a.test(__dword_ptr[esi + ReadOnlyPage + 4], ecx);
            a.setne(al);
            a.add(edi, eax);
            a.bt(__dword_ptr[esi + ReadOnlyPage + 8], 5);
            a.adc(ebp, 0);
            a.add(esi, 4);
            a.and(esi, 0xFF0);
            a.dec(ecx);
            a.jnz(loop);
            a.add(__dword_ptr[ReadOnlyPage], ebx);
        }, expectedVector: 14, expectedCr2Page: ReadOnlyPage >> 12, lastReadOnly: true);
    }

    /// <summary>
    /// A loop whose flags are dead at its top (the first op reads memory, the next writes every
    /// flag) counts its budget with SUB/CMP; its last flag writer leaves OF, SF and CF set. When the
    /// read at the top faults after thousands of passes, the pushed EFLAGS must be the guest's, not
    /// the count's.
    /// </summary>
    [Fact]
    public void A_fault_at_the_top_of_a_loop_pushes_the_guests_flags_not_the_budget_counts()
    {
        AssertSame(a =>
        {
            Label top = a.CreateLabel();
            a.xor(esi, esi);
            a.Label(ref top);
            a.mov(eax, __dword_ptr[esi + Window]);        // faults when ESI reaches 0x4000
            a.inc(edx);
            a.xor(ebx, eax);
            a.add(esi, 4);
            a.cmp(esi, unchecked((int)0x8000_0000));      // positive - INT_MIN: OF, SF and CF set
            a.jo(top);
        }, expectedVector: 14, expectedCr2Page: (Window >> 12) + 4);
    }

    /// <summary>
    /// Stores through the write TLB with the same predictor: a loop storing across the window,
    /// whose last page is read-only with CR0.WP set, so the first store into it faults (error code:
    /// present, write).
    /// </summary>
    [Fact]
    public void Stores_walking_across_pages_agree_and_fault_on_the_read_only_page()
    {
        AssertSame(a =>
        {
            Label top = a.CreateLabel();
            a.mov(edi, 0x10);
            a.mov(ecx, 0x7FFF_FFFF);
            a.Label(ref top);
            a.mov(__dword_ptr[edi + Window], ecx);
            a.mov(__word_ptr[edi + Window + 0x7FE], cx); // the word at 0xFFE of a page stays within it
            a.lea(edx, __[edi + Guest.Data]);
            a.mov(__dword_ptr[edx], ecx);                 // identity-mapped, the plain lookup
            a.add(ecx, 0x1234_5678);                      // OF and CF vary from pass to pass
            a.add(edi, 0x33);
            a.cmp(edi, 0x4000);
            a.jb(top);
        }, expectedVector: 14, expectedCr2Page: (Window >> 12) + 3, lastReadOnly: true);
    }

    /// <summary>
    /// Globals (constant addresses, whose TLB entry is a constant too): reads and a read-modify-write
    /// in a loop that remaps one of their pages on every pass (a page-table write and INVLPG), a
    /// read across a page end, then a store to the read-only page: #PF.
    /// </summary>
    [Fact]
    public void Globals_follow_a_remapped_page_and_fault_on_the_read_only_one()
    {
        AssertSame(a =>
        {
            Label top = a.CreateLabel();
            uint pte = PageTable + ((Window >> 12) + 1) * 4;
            a.mov(ecx, 300);
            a.Label(ref top);
            a.mov(eax, __dword_ptr[Window + 0x1008]);     // page 1: mapped to one of two physical pages
            a.add(ebx, eax);
            a.add(__dword_ptr[Window + 0x20], ecx);       // page 0, read-modify-write
            a.movzx(edx, __word_ptr[Window + 0x1FFF]);    // across the end of page 1
            a.xor(edi, edx);
            a.mov(edx, ecx);
            a.and(edx, 1);
            a.mov(edx, __dword_ptr[edx * 4 + 0x40_0000 - 8]); // the two physical pages' PTE values (below)
            a.mov(__dword_ptr[pte], edx);
            a.invlpg(__[Window + 0x1000]);
            a.dec(ecx);
            a.jnz(top);
            a.mov(eax, __dword_ptr[Window + 0x20]);
            a.mov(__dword_ptr[Window + 0x3010], eax);     // read-only: #PF
        }, expectedVector: 14, expectedCr2Page: (Window >> 12) + 3, lastReadOnly: true,
        extra: mem =>
        {
            mem.Write32(0x40_0000 - 8, s_physical[1] | 3);
            mem.Write32(0x40_0000 - 4, s_physical[2] | 3);
        });
    }
}
