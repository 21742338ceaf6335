using Iced.Intel;
using Virt.Monitor.Bench;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;
using ExitStatus = Virt.Monitor.Cli.ExitStatus;

namespace Virt.Integration.Tests.Io;

/// <summary>
/// REP INS/OUTS completed by the device model (NVMM's I/O assist): it reads the registers,
/// segments and control registers from the comm page, walks the guest's page tables to the buffer,
/// moves the data through the shared RAM and commits ECX/ESI/EDI; the monitor drops the decoded
/// code the device model overwrote.
/// </summary>
public class StringAssistTests
{
    private const uint PageDirectory = 0x30_0000, PageTable = 0x30_1000;
    private const uint RemappedLinear = 0x38_0000, RemappedPhysical = 0x39_0000;
    private const uint CodePage = 0x39_1000, NewCode = 0x38_2000;

    /// <summary>
    /// Paging on, with linear 0x380000 mapped to physical 0x390000: REP INSW to the linear address
    /// must land at the physical one. Then code that already ran is overwritten by REP INSB from the
    /// UART in loopback (the bytes went out by REP OUTSB) and called again: the new code must run.
    /// </summary>
    private static byte[] Guest(int words)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label fill = a.CreateLabel(), paged = a.CreateLabel(), sum = a.CreateLabel(), fail1 = a.CreateLabel(), fail2 = a.CreateLabel(), fail3 = a.CreateLabel();
        a.cld();
        // Page table: identity for the first 4 MiB, except one page moved.
        a.mov(edi, PageTable);
        a.mov(eax, 3u);
        a.mov(ecx, 1024);
        a.Label(ref fill);
        a.stosd();
        a.add(eax, 0x1000);
        a.dec(ecx);
        a.jnz(fill);
        a.mov(__dword_ptr[PageTable + (RemappedLinear >> 12) * 4], RemappedPhysical | 3);
        a.mov(edi, PageDirectory);
        a.xor(eax, eax);
        a.mov(ecx, 1024);
        a.rep.stosd();
        a.mov(__dword_ptr[PageDirectory], PageTable | 3);
        a.mov(eax, PageDirectory);
        a.mov(cr3, eax);
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)0x8000_0000));
        a.mov(cr0, eax);
        a.jmp(paged);
        a.Label(ref paged);

        // Old code: mov eax, 1; ret. Run it, so its block is decoded and cached.
        a.mov(__dword_ptr[CodePage], 0x0000_01B8u);
        a.mov(__word_ptr[CodePage + 4], (ushort)0xC300);
        a.mov(eax, CodePage);
        a.call(eax);
        a.cmp(eax, 1);
        a.jne(fail1);

        // REP INSW through the page tables.
        a.mov(edi, RemappedLinear);
        a.mov(ecx, words);
        a.mov(dx, IoWorkloads.TestDisk);
        a.rep.insw();
        a.test(ecx, ecx);
        a.jnz(fail1);
        a.cmp(edi, RemappedLinear + (uint)words * 2);
        a.jne(fail1);
        a.mov(esi, RemappedPhysical); // identity-mapped: the physical page itself
        a.mov(ecx, words / 2);
        a.xor(ebx, ebx);
        a.Label(ref sum);
        a.lodsd();
        a.add(ebx, eax);
        a.dec(ecx);
        a.jnz(sum);
        a.cmp(ebx, Checksum(words));
        a.jne(fail2);

        // New code through the UART in loopback: REP OUTSB out, REP INSB over the old code.
        a.mov(__dword_ptr[NewCode], 0x0000_02B8u);
        a.mov(__word_ptr[NewCode + 4], (ushort)0xC300);
        a.mov(dx, (ushort)0x3FA); a.mov(al, 0x07); a.@out(dx, al); // FCR: FIFOs on, cleared
        a.mov(dx, (ushort)0x3FC); a.mov(al, 0x10); a.@out(dx, al); // MCR: loopback
        a.mov(esi, NewCode);
        a.mov(ecx, 6);
        a.mov(dx, (ushort)0x3F8);
        a.rep.outsb();
        a.mov(edi, CodePage);
        a.mov(ecx, 6);
        a.rep.insb();
        a.mov(dx, (ushort)0x3FC); a.mov(al, 0x03); a.@out(dx, al);
        a.mov(eax, CodePage);
        a.call(eax);
        a.cmp(eax, 2);
        a.jne(fail3);
        a.mov(al, 0);
        a.@out((byte)0xF4, al);
        foreach (var (label, code) in new[] { (fail1, (byte)0x11), (fail2, (byte)0x22), (fail3, (byte)0x33) })
        {
            Label l = label;
            a.Label(ref l);
            a.mov(al, code);
            a.@out((byte)0xF4, al);
        }
        return g.Build();
    }

    private static uint Checksum(int words)
    {
        uint s = 0;
        for (int i = 0; i < words; i += 2) s += IoWorkloads.Word((uint)i) | (uint)IoWorkloads.Word((uint)i + 1) << 16;
        return s;
    }

    [Fact]
    public async Task Rep_ins_and_outs_go_through_the_guest_page_tables_and_overwritten_code_is_not_run_stale()
    {
        byte[] guest = Guest(2048);
        foreach (var (io, state) in IoRuns.AllModes)
        {
            var r = await IoRuns.RunAsync(guest, io, state);
            Assert.True(r.Status == ExitStatus.FromExitPort(0), $"{io}/{state}: status {r.Status} (0x23 = data, 0x45 = checksum, 0x67 = stale code)\n{r.Describe}");
            Assert.Equal(0, r.Count("refusedTotal"));
            // Three assisted exits: the INSW page, the OUTSB and the INSB.
            if (state == "cached")
            {
                Assert.Equal(0, r.Count("stateFetches"));
                Assert.Equal(3, r.Count("stateServedFromPage"));
                Assert.Equal(0, r.Count("commitRoundTrips"));
            }
            else
            {
                Assert.Equal(3, r.Count("stateFetches"));
                Assert.Equal(3, r.Count("commitRoundTrips"));
            }
            Assert.Equal(3, r.Count("stateCommits"));
        }
    }

    [Fact]
    public async Task Sixteen_bit_addressing_uses_di_and_cx_and_keeps_the_upper_halves()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label sum = a.CreateLabel(), fail = a.CreateLabel();
        a.cld();
        a.mov(edi, 0x1234_F000u);  // DI = 0xF000: the chunk ends exactly where DI wraps
        a.mov(ecx, 0x5678_0800u);  // CX = 0x800 words
        a.mov(dx, IoWorkloads.TestDisk);
        a.db(0x67, 0xF3, 0x66, 0x6D); // a16 rep insw
        a.cmp(edi, 0x1234_0000u);
        a.jne(fail);
        a.cmp(ecx, 0x5678_0000u);
        a.jne(fail);
        a.mov(esi, 0xF000u);
        a.mov(ecx, 0x400);
        a.xor(ebx, ebx);
        a.Label(ref sum);
        a.lodsd();
        a.add(ebx, eax);
        a.dec(ecx);
        a.jnz(sum);
        a.cmp(ebx, Checksum(0x800));
        a.jne(fail);
        a.mov(al, 0);
        a.@out((byte)0xF4, al);
        a.Label(ref fail);
        a.mov(al, 0x11);
        a.@out((byte)0xF4, al);
        byte[] guest = g.Build();
        foreach (var (io, state) in IoRuns.AllModes)
        {
            var r = await IoRuns.RunAsync(guest, io, state);
            Assert.True(r.Status == ExitStatus.FromExitPort(0), $"{io}/{state}: status {r.Status}\n{r.Describe}");
            Assert.Equal(0, r.Count("refusedTotal"));
            Assert.Equal(1, r.Count("stateCommits"));
        }
    }
}
