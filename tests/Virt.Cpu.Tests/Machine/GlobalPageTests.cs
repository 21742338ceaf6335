using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>
/// Global pages (PTE.G with CR4.PGE): a CR3 write drops the TLB's other entries but may keep
/// these (this TLB keeps them, as hardware does), and a CR4.PGE change drops them too (SDM vol. 3
/// 4.10.4.1). The entries a CR3 write kept are set aside so later CR3 writes do not walk them
/// again; a full flush must still reach them. Each page is remapped without INVLPG, so which
/// physical page a read reaches shows whether its entry was dropped.
/// </summary>
public class GlobalPageTests
{
    private const uint PageDirectory = 0x30_0000, PageTable = 0x30_1000;
    private const uint GlobalPage = 0x20_0000, LocalPage = 0x20_1000;
    private const uint PhysA = 0x21_0000, PhysB = 0x22_0000, PhysC = 0x23_0000, PhysD = 0x24_0000;
    private const int Present = 3, Global = 0x100;

    /// <summary>CR3 = the page directory, CR4.PGE, then CR0.PG (the identity map covers this code).</summary>
    private static void EnablePagingWithGlobalPages(Iced.Intel.Assembler a)
    {
        var paged = a.CreateLabel();
        a.mov(eax, PageDirectory);
        a.mov(cr3, eax);
        a.mov(eax, cr4);
        a.or(eax, 0x80); // PGE
        a.mov(cr4, eax);
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8000_0000));
        a.mov(cr0, eax);
        a.jmp(paged);
        a.Label(ref paged);
    }

    /// <summary>CR4.PGE off and on again: every TLB entry goes, global ones too.</summary>
    private static void ToggleGlobalPages(Iced.Intel.Assembler a)
    {
        a.mov(eax, cr4);
        a.and(eax, ~0x80);
        a.mov(cr4, eax);
        a.or(eax, 0x80);
        a.mov(cr4, eax);
    }

    /// <summary>The page directory's first table maps the first 4 MiB one to one.</summary>
    private static void IdentityMap(Virt.Cpu.Memory.PhysicalMemory mem)
    {
        mem.Write32(PageDirectory, PageTable | Present);
        for (uint i = 0; i < 1024; i++) mem.Write32(PageTable + i * 4, i << 12 | Present);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Cr3_writes_keep_global_entries_and_a_pge_change_drops_them(string engine)
    {
        using var m = Guest.Flat(a =>
        {
            EnablePagingWithGlobalPages(a);
            a.mov(ebx, __dword_ptr[GlobalPage]);  // A, now in the TLB
            a.mov(edi, __dword_ptr[LocalPage]);   // C, now in the TLB
            a.mov(__dword_ptr[PageTable + (GlobalPage >> 12) * 4], PhysB | Global | Present);
            a.mov(__dword_ptr[PageTable + (LocalPage >> 12) * 4], PhysD | Present);
            a.mov(eax, cr3);
            a.mov(cr3, eax);
            a.mov(ecx, __dword_ptr[GlobalPage]);  // still A: kept
            a.mov(ebp, __dword_ptr[LocalPage]);   // D: dropped
            a.mov(eax, cr3);
            a.mov(cr3, eax);
            a.mov(edx, __dword_ptr[GlobalPage]);  // still A: kept again
            ToggleGlobalPages(a);
            a.mov(esi, __dword_ptr[GlobalPage]);  // B: the PGE change dropped it
        }, memory: mem =>
        {
            IdentityMap(mem);
            mem.Write32(PageTable + (GlobalPage >> 12) * 4, PhysA | Global | Present);
            mem.Write32(PageTable + (LocalPage >> 12) * 4, PhysC | Present);
            mem.Write32(PhysA, 0xAAAA_AAAA);
            mem.Write32(PhysB, 0xBBBB_BBBB);
            mem.Write32(PhysC, 0xCCCC_CCCC);
            mem.Write32(PhysD, 0xDDDD_DDDD);
        }, engine: engine);
        Assert.Null(Guest.Exception(m));
        var s = m.Cpu.State;
        Assert.Equal(0xAAAA_AAAAu, s.Ebx);
        Assert.Equal(0xCCCC_CCCCu, s.Edi);
        Assert.Equal(0xAAAA_AAAAu, s.Ecx);
        Assert.Equal(0xDDDD_DDDDu, s.Ebp);
        Assert.Equal(0xAAAA_AAAAu, s.Edx);
        Assert.Equal(0xBBBB_BBBBu, s.Esi);
    }

    /// <summary>The same for code: the blocks found by linear address follow the TLB's rules.</summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Code_in_global_pages_is_found_again_after_a_cr3_write_and_refetched_after_a_pge_change(string engine)
    {
        const uint globalCode = 0x20_5000, localCode = 0x20_6000;
        const uint physE = 0x25_0000, physF = 0x26_0000, physG = 0x27_0000, physH = 0x28_0000;
        using var m = Guest.Flat(a =>
        {
            EnablePagingWithGlobalPages(a);
            for (int i = 0; i < 3; i++)
            {
                a.call(globalCode); // EAX = 1 (E)
                a.call(localCode);  // EBX = 3 (G)
            }
            a.mov(edi, eax);
            a.mov(ebp, ebx);
            a.mov(__dword_ptr[PageTable + (globalCode >> 12) * 4], physF | Global | Present);
            a.mov(__dword_ptr[PageTable + (localCode >> 12) * 4], physH | Present);
            a.mov(eax, cr3);
            a.mov(cr3, eax);
            a.call(globalCode);     // still E: kept
            a.call(localCode);      // H: dropped
            a.mov(ecx, eax);
            a.mov(edx, ebx);
            ToggleGlobalPages(a);
            a.call(globalCode);     // F: the PGE change dropped it
            a.mov(esi, eax);
        }, memory: mem =>
        {
            IdentityMap(mem);
            mem.Write32(PageTable + (globalCode >> 12) * 4, physE | Global | Present);
            mem.Write32(PageTable + (localCode >> 12) * 4, physG | Present);
            mem.Load(physE, [0xB8, 1, 0, 0, 0, 0xC3]); // mov eax, 1; ret
            mem.Load(physF, [0xB8, 2, 0, 0, 0, 0xC3]); // mov eax, 2; ret
            mem.Load(physG, [0xBB, 3, 0, 0, 0, 0xC3]); // mov ebx, 3; ret
            mem.Load(physH, [0xBB, 4, 0, 0, 0, 0xC3]); // mov ebx, 4; ret
        }, engine: engine);
        Assert.Null(Guest.Exception(m));
        var s = m.Cpu.State;
        Assert.Equal(1u, s.Edi);
        Assert.Equal(3u, s.Ebp);
        Assert.Equal(1u, s.Ecx);
        Assert.Equal(4u, s.Edx);
        Assert.Equal(2u, s.Esi);
    }
}
