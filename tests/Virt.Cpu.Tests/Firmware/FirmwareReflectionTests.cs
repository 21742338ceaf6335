using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Firmware;
using Virt.Cpu.Paravirt;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Wiring;
using static Iced.Intel.AssemblerRegisters;
using F = Virt.Cpu.Tests.Firmware.FirmwareGuest;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Firmware;

/// <summary>
/// I/O reflected to guest firmware (docs/firmware-reflection.md) on every engine: the handler entered
/// with the request, RSM putting back every register, flag, segment and control register exactly
/// (compared with the same guest whose accesses go to the exit handler), IN values of each size,
/// INS/OUTS with and without REP in both directions, MMIO reads, writes and read-modify-writes,
/// an interrupt raised by the handler delivered after the resume, and the region protected.
/// </summary>
public sealed class FirmwareReflectionTests
{
    private static void Paging(Assembler a)
    {
        // 4 MiB pages mapping the first 16 MiB to themselves (the firmware's region among them).
        a.mov(eax, cr4); a.or(eax, (int)ControlBits.CR4_PSE); a.mov(cr4, eax);
        for (uint i = 0; i < 4; i++) a.mov(__dword_ptr[0x20000 + i * 4], i * 0x40_0000 | 0x83);
        a.mov(eax, 0x20000); a.mov(cr3, eax);
        a.mov(eax, cr0); a.or(eax, unchecked((int)ControlBits.CR0_PG)); a.mov(cr0, eax);
    }

    private static void SetRegisters(Assembler a)
    {
        a.mov(eax, 0x1111_1111); a.mov(ebx, 0x2222_2222); a.mov(ecx, 0x3333_3333);
        a.mov(esi, 0x5555_5555); a.mov(edi, 0x6666_6666); a.mov(ebp, 0x7777_7777);
        a.push(0x0000_08D7); a.popfd();                     // CF PF AF ZF SF OF, DF clear
    }

    private static void AssertSameState(TestMachine expected, TestMachine actual)
    {
        CpuSnapshot e = expected.Cpu.CaptureSnapshot(), x = actual.Cpu.CaptureSnapshot();
        Assert.Equal(e.Registers, x.Registers);
        Assert.Equal(e.Eip, x.Eip);
        Assert.Equal(e.Eflags, x.Eflags);
        Assert.Equal(e.Cpl, x.Cpl);
        Assert.Equal(e.Segments, x.Segments);
        Assert.Equal(e.Ldtr, x.Ldtr);
        Assert.Equal(e.Tr, x.Tr);
        Assert.Equal(e.Gdtr, x.Gdtr);
        Assert.Equal(e.Idtr, x.Idtr);
        Assert.Equal((e.Cr0, e.Cr2, e.Cr3, e.Cr4), (x.Cr0, x.Cr2, x.Cr3, x.Cr4));
        Assert.Equal(e.DebugRegisters, x.DebugRegisters);
        Assert.Equal((e.Halted, e.InterruptShadow, e.NmiBlocked), (x.Halted, x.InterruptShadow, x.NmiBlocked));
    }

    private static void Guest(Assembler a, Action<Assembler> body)
    {
        Paging(a);
        a.mov(ax, G.UData); a.mov(fs, ax);                   // a segment that is not the others
        body(a);
        a.hlt();
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Rsm_restores_the_state_exactly_and_IN_of_each_size_lands_in_the_accumulator(string engine)
    {
        Action<Assembler> guest = a => Guest(a, a =>
        {
            a.mov(dx, F.Port + 1);
            a.mov(eax, 0x1234_5678);
            a.@out(dx, eax);
            SetRegisters(a);
            a.@in(al, dx); a.mov(__dword_ptr[F.Out], eax);
            a.@in(ax, dx); a.mov(__dword_ptr[F.Out + 4], eax);
            a.mov(edx, 0x0000_03F9);
            a.@in(eax, dx); a.mov(__dword_ptr[F.Out + 8], eax);
            SetRegisters(a);
            a.mov(edx, 0x0000_03F9);
            a.@in(al, dx);
        });
        using var fw = F.Machine(engine, guest);
        using var plain = F.Plain(engine, guest);
        plain.InValues[F.Port + 1] = 0x1234_5678;
        Assert.Equal(StopReason.Halted, fw.Run());
        Assert.Equal(StopReason.Halted, plain.Run());

        Assert.Equal(0x1111_1178u, fw.Read32(F.Out));
        Assert.Equal(0x1111_5678u, fw.Read32(F.Out + 4));
        Assert.Equal(0x1234_5678u, fw.Read32(F.Out + 8));
        AssertSameState(plain, fw);
        Assert.Empty(fw.Outs);                              // nothing reached the exit handler
        FirmwareStatistics stats = fw.Cpu.FirmwareStats;
        Assert.Equal(5, stats.Reflections);
        Assert.InRange(stats.HandlerInstructions, 5 * 10, 5 * 200);
        Assert.Null(stats.Failure);
        Assert.False(fw.Cpu.InFirmware);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void String_forms_move_their_data_and_advance_ECX_ESI_EDI_as_the_CPU_would(string engine)
    {
        Action<Assembler> guest = a => Guest(a, a =>
        {
            a.mov(dx, F.Port);
            a.mov(esi, F.Buffer); a.mov(ecx, 10); a.rep.outsb();             // one chunk of 10
            a.mov(edi, F.Buffer + 0x100); a.mov(ecx, 5); a.rep.insw();       // one chunk of 5 words
            a.mov(edi, F.Buffer + 0x202); a.mov(ecx, 3); a.std(); a.rep.insb(); a.cld(); // down: one element each
            a.mov(edi, F.Buffer + 0xFFE); a.mov(ecx, 4); a.rep.insb();       // two chunks: the page ends after 2
            a.mov(esi, F.Buffer + 0x300); a.outsd();
            a.mov(edi, F.Buffer + 0x400); a.insd();
            a.mov(__dword_ptr[F.Out], ecx);
        });
        Action<TestMachine> data = m =>
        {
            m.Memory.Load(F.Buffer, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            m.Memory.Load(F.Buffer + 0x300, [0xA4, 0xA3, 0xA2, 0xA1]);
        };
        using var fw = F.Machine(engine, guest);
        using var plain = F.Plain(engine, guest);
        data(fw);
        data(plain);
        Assert.Equal(StopReason.Halted, fw.Run());
        Assert.Equal(StopReason.Halted, plain.Run());

        AssertSameState(plain, fw);
        Assert.Equal(14u, fw.Read32(F.LogCount));
        var log = new byte[14];
        fw.Memory.Read(F.Log, log);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xA4, 0xA3, 0xA2, 0xA1 }, log);
        var words = new byte[10];
        fw.Memory.Read(F.Buffer + 0x100, words);
        Assert.Equal(Enumerable.Range(0x40, 10).Select(i => (byte)i), words);
        var down = new byte[3];
        fw.Memory.Read(F.Buffer + 0x200, down);
        Assert.Equal(new byte[] { 0x40, 0x40, 0x40 }, down);
        var across = new byte[4];
        fw.Memory.Read(F.Buffer + 0xFFE, across);
        Assert.Equal(new byte[] { 0x40, 0x41, 0x40, 0x41 }, across);
        Assert.Equal(0x4342_4140u, fw.Read32(F.Buffer + 0x400));
        Assert.Equal(1 + 1 + 3 + 2 + 1 + 1, fw.Cpu.FirmwareStats.Reflections);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Mmio_reads_writes_and_read_modify_writes_are_completed_by_the_firmware(string engine)
    {
        using var m = F.Machine(engine, a =>
        {
            a.mov(__dword_ptr[F.Mmio + 0x10], 0xCAFE_BABE);
            a.mov(eax, __dword_ptr[F.Mmio + 0x10]);
            a.movzx(ebx, __word_ptr[F.Mmio + 0x12]);
            a.add(__dword_ptr[F.Mmio + 0x10], 1);
            a.mov(ecx, __dword_ptr[F.Mmio + 0x10]);
            a.mov(__byte_ptr[F.Mmio + 0x20], 0x5A);
            a.mov(dl, __byte_ptr[F.Mmio + 0x20]);
            a.mov(__dword_ptr[F.Out], eax);
            a.mov(__dword_ptr[F.Out + 4], ebx);
            a.mov(__dword_ptr[F.Out + 8], ecx);
            a.mov(__dword_ptr[F.Out + 12], edx);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0xCAFE_BABEu, m.Read32(F.Out));
        Assert.Equal(0xCAFEu, m.Read32(F.Out + 4));
        Assert.Equal(0xCAFE_BABFu, m.Read32(F.Out + 8));
        Assert.Equal(0x5Au, m.Read32(F.Out + 12) & 0xFF);
        Assert.Equal(8, m.Cpu.FirmwareStats.Reflections);
        Assert.Null(m.Cpu.FirmwareStats.Failure);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void An_interrupt_the_handler_raises_is_held_while_it_runs_and_delivered_right_after_the_resume(string engine)
    {
        const uint IrqHandler = 0x30000;
        using var m = F.Machine(engine, a =>
        {
            a.sti();
            a.mov(dx, F.Port + 1);
            a.mov(al, 0x02);
            a.@out(dx, al);                                  // the handler raises IRQ 4
            a.mov(ebx, __dword_ptr[F.Out]);                  // the interrupt came before this
            a.mov(__dword_ptr[F.Out + 8], ebx);
            a.hlt();
        }, handler: a =>
        {
            a.mov(__dword_ptr[ebx + FirmwareAbi.RequestStatus], FirmwareAbi.StatusCompleted);
            a.mov(eax, 4); a.mov(edx, 1);
            a.call(F.Call(VirtCall.FirmwareIrq));
            a.mov(__dword_ptr[F.Registers], eax);            // the call's result
            a.mov(ecx, 1000);                                // a while with the line high: nothing is delivered here
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.loop(spin);
            a.rsm();
        }, setup: (m, g) =>
        {
            var chipset = new PcChipset(apic: false);
            chipset.Connect(m.Cpu);
            // The BIOS's programming of the 8259 pair (PcChipset.PrepareFirmwareState), IRQ 4 unmasked: vector 0x0C.
            foreach (var (port, value) in new (ushort, byte)[] { (0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x21, 0xEB), (0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01), (0xA1, 0xFF) })
                chipset.Pic.PortWrite(port, 1, value);
            m.Cpu.FirmwareIrq = chipset.SetIrq;
            g.WriteIdt(0x0C, Descriptors.Gate(G.KCode, IrqHandler, 0xE));
            g.Handler(IrqHandler, h =>
            {
                h.mov(__dword_ptr[F.Out], 1);
                h.push(eax);
                h.mov(eax, __dword_ptr[esp + 4]);            // where the guest was interrupted
                h.mov(__dword_ptr[F.Out + 4], eax);
                h.pop(eax);
                h.iretd();
            });
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Null(m.Cpu.FirmwareStats.Failure);
        Assert.Equal(VirtAbi.Ok, m.Read32(F.Registers));
        Assert.Equal(1u, m.Read32(F.Out + 8));
        Assert.Equal(G.Code + 1 + 4 + 2 + 1, m.Read32(F.Out + 4)); // sti, mov dx, mov al, out: right after the OUT
        Assert.Equal(1L, m.Cpu.FirmwareStats.MonitorCalls);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void The_region_is_read_only_to_the_guest_and_RSM_outside_a_handler_is_UD(string engine)
    {
        const uint UdHandler = 0x31000;
        using var m = F.Machine(engine, a =>
        {
            a.mov(__dword_ptr[F.Base + FirmwareAbi.Image], 0xF4F4_F4F4); // over the handler's first bytes: dropped
            a.mov(__dword_ptr[F.Registers + 0xF8], 0x77);                 // over its data: dropped
            a.mov(eax, __dword_ptr[F.Base + FirmwareAbi.CallTable]);      // reads see the firmware
            a.mov(__dword_ptr[F.Out], eax);
            a.rsm();
            a.mov(dx, F.Port);
            a.mov(eax, 0x9A);
            a.@out(dx, al);
            a.xor(eax, eax);
            a.@in(al, dx);
            a.mov(__dword_ptr[F.Out + 4], eax);
            a.hlt();
        }, setup: (m, g) =>
        {
            g.WriteIdt(6, Descriptors.Gate(G.KCode, UdHandler, 0xE));
            g.Handler(UdHandler, h => { h.add(__dword_ptr[F.Out + 8], 1); h.add(__dword_ptr[esp], 2); h.iretd(); });
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(BitConverter.ToUInt32(CallTableStubs.Table(), 0), m.Read32(F.Out));
        Assert.Equal(0x9Au, m.Read32(F.Out + 4));            // the handler still works: its code and data were not changed
        Assert.Equal(1u, m.Read32(F.Out + 8));
        Assert.Null(m.Cpu.FirmwareStats.Failure);
        Assert.Equal(2, m.Cpu.FirmwareStats.Reflections);
    }

    [Fact]
    public void A_region_that_is_not_page_aligned_RAM_is_refused()
    {
        using var m = new TestMachine();
        Assert.Throws<ArgumentException>(() => m.Cpu.LoadFirmware(F.Base + 0x10, F.Size, [0xC3]));
        Assert.Throws<ArgumentException>(() => m.Cpu.LoadFirmware(0xE000_0000, F.Size, [0xC3]));
        Assert.Throws<ArgumentException>(() => m.Cpu.LoadFirmware(F.Base, FirmwareAbi.MinimumSize, new byte[0x2000]));
    }
}
