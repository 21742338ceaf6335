using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Machine;

/// <summary>Paging: #PF with CR2 and error codes, WP, accessed/dirty bits, PSE pages, INVLPG, resumable faults.</summary>
public class PagingTests
{
    private const uint PageDir = 0x100000, PageTable = 0x101000, Record = 0x5000;

    /// <summary>Identity-maps the first 4 MiB with 4 KiB pages (PTE flags given), and enables paging.</summary>
    private static void EnablePaging(Assembler a, uint pteFlags = 3, uint cr4 = 0)
    {
        var fill = a.CreateLabel();
        a.mov(edi, PageTable);
        a.mov(eax, pteFlags);
        a.mov(ecx, 1024);
        a.Label(ref fill);
        a.stosd();
        a.add(eax, 0x1000);
        a.loop(fill);
        a.mov(__dword_ptr[PageDir], PageTable | 7);
        if (cr4 != 0) { a.mov(eax, cr4); a.mov(AssemblerRegisters.cr4, eax); }
        a.mov(eax, PageDir);
        a.mov(cr3, eax);
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8001_0000)); // PG | WP
        a.mov(cr0, eax);
    }

    private static void PageFaultHandler(G g, uint at, bool fixUp)
    {
        g.WriteIdt(14, Descriptors.Gate(G.KCode, at, 0xE));
        g.Handler(at, a =>
        {
            a.pop(eax);                              // error code
            a.mov(__dword_ptr[Record], eax);
            a.mov(eax, cr2);
            a.mov(__dword_ptr[Record + 4], eax);
            a.inc(__dword_ptr[Record + 8]);
            if (fixUp)
            {
                // Map the faulting page (identity, writable) and retry the instruction.
                a.shr(eax, 12);
                a.mov(ebx, eax);
                a.shl(ebx, 12);
                a.or(ebx, 3);
                a.mov(__dword_ptr[eax * 4 + PageTable], ebx);
                a.mov(edx, cr2);
                a.invlpg(__[edx]);
            }
            a.iretd();
        });
    }

    [Fact]
    public void NotPresentPageFaultsWithCr2AndErrorCodeThenResumes()
    {
        using var m = new TestMachine();
        var g = new G(m);
        PageFaultHandler(g, 0x20000, fixUp: true);
        g.Load(a =>
        {
            EnablePaging(a);
            a.mov(__dword_ptr[PageTable + (0x3FF000 >> 12) * 4], 0); // unmap 0x3FF000
            a.mov(eax, 0x3FF000);
            a.invlpg(__[eax]);
            a.mov(__dword_ptr[0x3FF010], 0x1234_5678);                // faults, is fixed up, retried
            a.mov(esi, __dword_ptr[0x3FF010]);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x1234_5678u, m.Cpu.State.Esi);
        Assert.Equal(1u, m.Read32(Record + 8));
        Assert.Equal(0x3FF010u, m.Read32(Record + 4));        // CR2
        Assert.Equal(0b010u, m.Read32(Record));               // not present, write, supervisor
    }

    [Fact]
    public void WriteProtectFaultsSupervisorWritesToReadOnlyPages()
    {
        using var m = new TestMachine();
        var g = new G(m);
        PageFaultHandler(g, 0x20000, fixUp: true);
        g.Load(a =>
        {
            EnablePaging(a);
            a.and(__dword_ptr[PageTable + (0x300000 >> 12) * 4], ~2);   // read-only
            a.mov(eax, 0x300000);
            a.invlpg(__[eax]);
            a.mov(ebx, __dword_ptr[0x300000]);                          // reading is fine
            a.mov(__dword_ptr[0x300004], 7);                            // writing faults (WP=1)
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(1u, m.Read32(Record + 8));
        Assert.Equal(0b011u, m.Read32(Record));                         // present, write, supervisor
        Assert.Equal(7u, m.Read32(0x300004));
    }

    [Fact]
    public void AccessedAndDirtyBitsAreSetOnFirstUse()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.Load(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x200000]);       // read: A only
            a.mov(__dword_ptr[0x201000], eax);       // write: A and D
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x20u, m.Read32(PageTable + 0x200 * 4) & 0x60);
        Assert.Equal(0x60u, m.Read32(PageTable + 0x201 * 4) & 0x60);
        Assert.Equal(0u, m.Read32(PageTable + 0x202 * 4) & 0x60);
    }

    /// <summary>
    /// A walk that faults leaves the accessed bits alone: the PDE that led to a not-present PTE
    /// stays unaccessed (the 386 behaviour test386.asm checks at POST 11; the SDM sets A for
    /// entries used by a translation, and this one produced none).
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AWalkThatFaultsLeavesThePdeUnaccessed(string engine)
    {
        using var m = new TestMachine();
        Engines.Use(m, engine);
        var g = new G(m);
        g.WriteIdt(14, Descriptors.Gate(G.KCode, 0x20000, 0xE));
        g.Handler(0x20000, a =>
        {
            a.pop(__dword_ptr[Record]);              // error code
            a.hlt();
        });
        g.Load(a =>
        {
            EnablePaging(a);
            a.mov(__dword_ptr[PageDir + 2 * 4], 0x10_2000 | 7); // 8 MiB: an empty page table, A clear
            a.mov(eax, __dword_ptr[0x80_0000]);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0u, m.Read32(Record));                       // not present, read, supervisor
        Assert.Equal(0u, m.Read32(PageDir + 2 * 4) & 0x20);       // PDE not accessed
        Assert.Equal(0x20u, m.Read32(PageDir) & 0x20);            // while the one that translated is
    }

    [Fact]
    public void PsePagesMapFourMegabytes()
    {
        using var m = new TestMachine(32 << 20);
        var g = new G(m);
        m.Memory.Write32(0x40_0123, 0xCAFE_F00D);
        g.Load(a =>
        {
            EnablePaging(a, cr4: 0x10);                                 // CR4.PSE
            a.mov(__dword_ptr[PageDir + (0xC000_0000 >> 22) * 4], 0x40_0000 | 0x83); // 0xC0000000 -> 4 MiB at 4 MiB
            a.mov(ebx, 0xC000_0123);
            a.mov(eax, __dword_ptr[ebx]);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0xCAFE_F00Du, m.Cpu.State.Eax);
    }

    [Fact]
    public void InvlpgDropsAStaleTranslation()
    {
        using var m = new TestMachine();
        var g = new G(m);
        m.Memory.Write32(0x30_0000, 111);
        m.Memory.Write32(0x30_1000, 222);
        g.Load(a =>
        {
            EnablePaging(a);
            a.mov(eax, __dword_ptr[0x300000]);                       // caches 0x300000 -> 0x300000
            a.mov(__dword_ptr[PageTable + 0x300 * 4], 0x301003);      // remap to 0x301000
            a.mov(ebx, __dword_ptr[0x300000]);                       // stale TLB: still 111
            a.mov(edx, 0x300000);
            a.invlpg(__[edx]);
            a.mov(ecx, __dword_ptr[0x300000]);                       // 222
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(111u, m.Cpu.State.Eax);
        Assert.Equal(111u, m.Cpu.State.Ebx);
        Assert.Equal(222u, m.Cpu.State.Ecx);
    }
}
