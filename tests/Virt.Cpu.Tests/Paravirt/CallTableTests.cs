using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using P = Virt.Cpu.Tests.Paravirt.ParavirtGuest;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// This monitor's call table (docs/paravirt.md): placed through its MSR, filled with the 32-byte
/// stubs, every entry called from guest code on every engine, and every misuse answered with the
/// documented error in EAX.
/// </summary>
public sealed class CallTableTests
{
    private const uint Table = 0x8000, Buffer = 0x9000;

    private static void Place(Assembler a) => P.Wrmsr(a, VirtAbi.MsrCallTable, Table | 1);

    private static void Call(Assembler a, VirtCall c) => a.call(Table + (uint)c * VirtAbi.EntrySize);

    private static TestMachine Machine(string engine, Action<Assembler> body)
    {
        TestMachine m = P.Machine(engine, ParavirtFeatures.All, a => { Place(a); body(a); });
        m.Cpu.ParavirtConsolePort = 0xE9; // the test machine's console
        return m;
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void The_guest_places_the_table_and_finds_every_stub_there(string engine)
    {
        using var m = Machine(engine, a =>
        {
            P.Cpuid(a, VirtAbi.CpuidInterface, P.Out);
            P.Rdmsr(a, VirtAbi.MsrCallTable, P.Out + 0x10);
            P.Wrmsr(a, VirtAbi.MsrCallTable, Table | 0x11);                      // reserved bit 4
            P.Wrmsr(a, VirtAbi.MsrCallTable, 0xFFFF_F000 | 1);                   // not RAM
            P.Wrmsr(a, VirtAbi.MsrCallTable, Table | 1, 1);                      // above 4 GiB
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(VirtAbi.FeatureCallTable, m.Read32(P.Out + 4));
        Assert.Equal(VirtAbi.MsrCallTable, m.Read32(P.Out + 8));
        Assert.Equal((uint)VirtAbi.Entries, m.Read32(P.Out + 12));
        Assert.Equal(Table | 1, m.Read32(P.Out + 0x10));
        Assert.Equal(3u, m.Read32(P.Faults));
        var table = new byte[VirtAbi.Entries * VirtAbi.EntrySize];
        m.Memory.Read(Table, table);
        Assert.Equal(CallTableStubs.Table(), table);
        Assert.All(Enum.GetValues<VirtCall>(), c => Assert.InRange(CallTableStubs.Stub(c).Length, 1, VirtAbi.EntrySize));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void The_hot_entries_are_cli_sti_save_fl_and_restore_fl(string engine)
    {
        using var m = Machine(engine, a =>
        {
            a.sti();
            Call(a, VirtCall.Cli);
            Call(a, VirtCall.SaveFl);
            a.mov(__dword_ptr[P.Out], eax);                                      // IF clear
            Call(a, VirtCall.Sti);
            Call(a, VirtCall.SaveFl);
            a.mov(__dword_ptr[P.Out + 4], eax);                                  // IF set
            a.mov(eax, 0x2 | 0x1 | 0x40);                                        // CF, ZF, IF clear
            Call(a, VirtCall.RestoreFl);
            a.pushfd();
            a.pop(__dword_ptr[P.Out + 8]);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0u, m.Read32(P.Out) & 0x200);
        Assert.Equal(0x200u, m.Read32(P.Out + 4) & 0x200);
        Assert.Equal(0x43u, m.Read32(P.Out + 8) & 0x2FF);
        Assert.Equal(0L, m.Cpu.Hypercalls);                                      // none of them entered the monitor
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Irq_enable_and_halt_and_halt_wait_with_interrupts_on(string engine)
    {
        using var m = Machine(engine, a =>
        {
            a.cli();
            Call(a, VirtCall.Halt);                                              // IF clear: refused, no halt
            a.mov(__dword_ptr[P.Out], eax);
            Call(a, VirtCall.IrqEnableAndHalt);
            a.mov(__dword_ptr[P.Out + 4], 1);
            Call(a, VirtCall.Halt);
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(VirtAbi.ErrorInvalid, m.Read32(P.Out));
        Assert.Equal(0u, m.Read32(P.Out + 4));                                    // halted in irq_enable_and_halt
        Assert.Equal(0x200u, m.Cpu.State.Eflags & 0x200);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Console_write_sends_the_buffer_and_refuses_bad_ones(string engine)
    {
        using var m = Machine(engine, a =>
        {
            a.mov(eax, Buffer);
            a.mov(edx, 13);
            Call(a, VirtCall.ConsoleWrite);
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, Buffer);
            a.mov(edx, VirtAbi.MaxConsoleBytes + 1);                             // too long
            Call(a, VirtCall.ConsoleWrite);
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.mov(eax, 0xFFFF_FF00);                                             // not RAM
            a.mov(edx, 16);
            Call(a, VirtCall.ConsoleWrite);
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.mov(eax, 0xFFFF_FFF0);                                             // wraps past 4 GiB
            a.mov(edx, 0x20);
            Call(a, VirtCall.ConsoleWrite);
            a.mov(__dword_ptr[P.Out + 12], eax);
            a.mov(eax, Buffer);
            a.xor(edx, edx);
            Call(a, VirtCall.ConsoleWrite);
            a.mov(__dword_ptr[P.Out + 16], eax);
            a.hlt();
        });
        m.Memory.Load(Buffer, "hello, world\n"u8);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("hello, world\n", m.Console.ToString());
        Assert.Equal(13u, m.Read32(P.Out));
        Assert.Equal(VirtAbi.ErrorInvalid, m.Read32(P.Out + 4));
        Assert.Equal(VirtAbi.ErrorFault, m.Read32(P.Out + 8));
        Assert.Equal(VirtAbi.ErrorFault, m.Read32(P.Out + 12));
        Assert.Equal(0u, m.Read32(P.Out + 16));
        Assert.Equal(5L, m.Cpu.CallTableCalls[(int)VirtCall.ConsoleWrite]);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Port_write_batch_writes_in_order_or_not_at_all(string engine)
    {
        using var m = Machine(engine, a =>
        {
            a.mov(eax, Buffer);
            a.mov(edx, 3);
            Call(a, VirtCall.PortWriteBatch);
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, Buffer + 0x100);                                          // second entry has size 3
            a.mov(edx, 2);
            Call(a, VirtCall.PortWriteBatch);
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.mov(eax, Buffer);
            a.mov(edx, VirtAbi.MaxPortWrites + 1);
            Call(a, VirtCall.PortWriteBatch);
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.mov(eax, 0xFFFF_FF00);
            a.mov(edx, 1);
            Call(a, VirtCall.PortWriteBatch);
            a.mov(__dword_ptr[P.Out + 12], eax);
            a.hlt();
        });
        static byte[] Entry(ushort port, byte size, uint value, byte reserved = 0) =>
            [(byte)port, (byte)(port >> 8), size, reserved, (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)];
        m.Memory.Load(Buffer, [.. Entry(0x80, 1, 0x12), .. Entry(0x70, 2, 0x3456), .. Entry(0x1234, 4, 0xDEAD_BEEF)]);
        m.Memory.Load(Buffer + 0x100, [.. Entry(0x80, 1, 0x99), .. Entry(0x81, 3, 1)]);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(3u, m.Read32(P.Out));
        Assert.Equal(VirtAbi.ErrorInvalid, m.Read32(P.Out + 4));
        Assert.Equal(VirtAbi.ErrorInvalid, m.Read32(P.Out + 8));
        Assert.Equal(VirtAbi.ErrorFault, m.Read32(P.Out + 12));
        Assert.Equal([((ushort)0x80, 1, 0x12u), ((ushort)0x70, 2, 0x3456u), ((ushort)0x1234, 4, 0xDEAD_BEEFu)], m.Outs);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Read_time_gives_the_pvclock_nanoseconds(string engine)
    {
        using var m = Machine(engine, a =>
        {
            Call(a, VirtCall.ReadTime);
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(__dword_ptr[P.Out + 4], edx);
            a.mov(ecx, 10_000);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.dec(ecx);
            a.jnz(loop);
            Call(a, VirtCall.ReadTime);
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.mov(__dword_ptr[P.Out + 12], edx);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        ulong t0 = m.Memory.Read64(P.Out), t1 = m.Memory.Read64(P.Out + 8);
        Assert.True(t1 > t0, $"{t0} then {t1}");
        Assert.True(t1 < (ulong)TimeSpan.FromMinutes(10).Ticks * 100, "nanoseconds since RESET");
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Flush_tlb_makes_a_changed_mapping_visible(string engine)
    {
        const uint Pd = 0x20000, Pt = 0x21000, Linear = 0x300000, Old = 0x300000, New = 0x301000;
        using var m = Machine(engine, a =>
        {
            a.mov(eax, Pd);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)0x8000_0000));
            a.mov(cr0, eax);
            a.mov(eax, __dword_ptr[Linear]);                                     // into the TLB
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(__dword_ptr[Pt + (Linear >> 12) * 4], New | 3);                 // remap without INVLPG
            a.mov(eax, Linear);
            Call(a, VirtCall.FlushTlb);
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.mov(eax, __dword_ptr[Linear]);
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.mov(__dword_ptr[Pt + (Linear >> 12) * 4], Old | 3);
            a.mov(eax, VirtAbi.FlushAll);
            Call(a, VirtCall.FlushTlb);
            a.mov(eax, __dword_ptr[Linear]);
            a.mov(__dword_ptr[P.Out + 12], eax);
            a.hlt();
        });
        m.Memory.Write32(Pd, Pt | 3);
        for (uint i = 0; i < 1024; i++) m.Memory.Write32(Pt + i * 4, i << 12 | 3);
        m.Memory.Write32(Old, 0xAAAA_AAAA);
        m.Memory.Write32(New, 0xBBBB_BBBB);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0xAAAA_AAAAu, m.Read32(P.Out));
        Assert.Equal(VirtAbi.Ok, m.Read32(P.Out + 4));
        Assert.Equal(0xBBBB_BBBBu, m.Read32(P.Out + 8));
        Assert.Equal(0xAAAA_AAAAu, m.Read32(P.Out + 12));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Numbers_that_are_not_monitor_entries_are_enosys(string engine)
    {
        using var m = Machine(engine, a =>
        {
            a.mov(eax, VirtAbi.CallBase + VirtAbi.Entries);
            a.vmcall();
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, VirtAbi.CallBase + (uint)VirtCall.Cli);                  // a hot entry is guest code only
            a.vmcall();
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.mov(eax, VirtAbi.CallBase + 0xFFFF);
            a.vmcall();
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        for (uint i = 0; i < 12; i += 4) Assert.Equal(VirtAbi.ErrorNoSys, m.Read32(P.Out + i));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Vmcall_from_ring_3_is_eperm_for_every_number(string engine)
    {
        const uint User = 0x30000;
        using var m = Machine(engine, a =>
        {
            // Down to ring 3 (ProtectedModeGuest's user segments and TSS), then two VMCALLs.
            a.push(ProtectedModeGuest.UData);
            a.push(0x70000);
            a.pushfd();
            a.push(ProtectedModeGuest.UCode);
            a.push(User);
            a.iretd();
        });
        var g = new ProtectedModeGuest(m);
        g.Handler(User, a =>
        {
            a.mov(ax, ProtectedModeGuest.UData);                                 // IRET to ring 3 nulled DS
            a.mov(ds, ax);
            a.mov(eax, VirtAbi.CallBase + (uint)VirtCall.ReadTime);
            a.vmcall();
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, KvmAbi.HcVapicPollIrq);
            a.vmcall();
            a.mov(__dword_ptr[P.Out + 4], eax);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        Assert.Equal(StopReason.BudgetExhausted, m.Run(100_000));
        Assert.Equal(3, m.Cpu.State.Cpl);
        Assert.Equal(VirtAbi.ErrorPerm, m.Read32(P.Out));
        Assert.Equal(KvmAbi.ErrorPerm, m.Read32(P.Out + 4));
        Assert.Equal(0L, m.Cpu.CallTableCalls[(int)VirtCall.ReadTime]);
    }

    /// <summary>
    /// VMI's inline form: the interpreter and native code run calls to hot entries at the call site; every engine and
    /// both forms leave the same registers, flags and memory.
    /// </summary>
    [Theory]
    [InlineData(Engines.Interpreter, true)]
    [InlineData(Engines.Interpreter, false)]
    [InlineData(Engines.Native, true)]
    public void Inlined_and_called_hot_entries_leave_the_same_state(string engine, bool inline)
    {
        ParavirtFeatures features = inline ? ParavirtFeatures.All : ParavirtFeatures.All & ~ParavirtFeatures.InlineHotCalls;
        using var m = P.Machine(engine, features, a =>
        {
            Place(a);
            a.mov(esi, 0);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            Call(a, VirtCall.SaveFl);
            a.mov(ebx, eax);
            Call(a, VirtCall.Cli);
            a.add(__dword_ptr[P.Out], esi);
            Call(a, VirtCall.SaveFl);
            a.or(__dword_ptr[P.Out + 4], eax);
            a.mov(eax, ebx);
            Call(a, VirtCall.RestoreFl);
            Call(a, VirtCall.Sti);
            a.inc(esi);
            a.cmp(esi, 100);
            a.jb(loop);
            a.pushfd();
            a.pop(__dword_ptr[P.Out + 8]);
            a.mov(__dword_ptr[P.Out + 12], esp);
            a.mov(__byte_ptr[Table + (uint)VirtCall.Cli * VirtAbi.EntrySize], 0x90); // the guest writes over cli: nop; ret
            Call(a, VirtCall.Cli);
            Call(a, VirtCall.SaveFl);
            a.mov(__dword_ptr[P.Out + 16], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(4950u, m.Read32(P.Out));
        Assert.Equal(0u, m.Read32(P.Out + 4) & 0x200);                         // inside the section IF was clear every time
        Assert.Equal(0x200u, m.Read32(P.Out + 8) & 0x200);
        Assert.Equal(0x80000u, m.Read32(P.Out + 12));                           // the stack is where it was
        Assert.Equal(0x200u, m.Read32(P.Out + 16) & 0x200);                     // the overwritten stub ran, not the inline cli
        if (engine == Engines.Interpreter) Assert.Equal(inline ? 500L : 0L, m.Cpu.InlinedHotCalls);
        Assert.Equal(0L, m.Cpu.Hypercalls);
    }
}
