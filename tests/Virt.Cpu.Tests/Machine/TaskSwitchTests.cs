using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Machine;

/// <summary>
/// Hardware task switches (SDM vol. 3 ch. 7) the way kvm-unit-tests' taskswitch tests use them:
/// an exception with an error code through an IDT task gate (the code lands on the new task's
/// stack), a software interrupt through an IDT task gate, CALL and JMP through a GDT task gate,
/// IRET back through the back link, and tasks re-entered after they left, resuming after the
/// instruction that left them. The old task's EIP is the next instruction for JMP, CALL, INT n
/// and IRET, the faulting one for an exception.
/// </summary>
public class TaskSwitchTests
{
    private const uint Tss3 = 0x3200, Log = 0x5000, Count = 0x4F00, Restarts = 0x4F04;
    private const ushort Tss3Sel = 0x40, Tss3Gate = 0x48;

    /// <summary>A ring-0 task at eip with its own stack, flat segments, no LDT, IF clear.</summary>
    private static void WriteTask(TestMachine m, uint tss, uint eip, uint esp)
    {
        m.Memory.Write32(tss + 0x1C, 0);      // CR3 (paging is off)
        m.Memory.Write32(tss + 0x20, eip);
        m.Memory.Write32(tss + 0x24, 0x2);    // EFLAGS
        m.Memory.Write32(tss + 0x38, esp);
        foreach (uint off in new uint[] { 0x48, 0x50, 0x54, 0x58, 0x5C }) m.Memory.Write32(tss + off, G.KData);
        m.Memory.Write32(tss + 0x4C, G.KCode);
        m.Memory.Write32(tss + 0x60, 0);      // LDT
        m.Memory.Write16(tss + 0x66, 0x68);   // no I/O bitmap
    }

    private static G Setup(TestMachine m, string engine)
    {
        Engines.Use(m, engine);
        var g = new G(m);
        g.WriteGdt(8, Descriptors.Tss32(Tss3));
        g.WriteGdt(9, Descriptors.Gate(Tss3Sel, 0, 5));
        WriteTask(m, G.Tss2, 0x22000, 0x6_0000);
        WriteTask(m, Tss3, 0x24000, 0x6_1000);
        return g;
    }

    private static uint TssType(TestMachine m, ushort sel) => (uint)(m.Memory.Read64(G.Gdt + (uint)(sel & ~7)) >> 40) & 0xF;

    private static void LogEntry(Assembler a, AssemblerRegister32 value)
    {
        a.mov(eax, __dword_ptr[Count]);
        a.mov(__dword_ptr[eax * 8 + Log], value);
        a.mov(__dword_ptr[eax * 8 + Log + 4], esp);
        a.inc(__dword_ptr[Count]);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void TaskGatesForAFaultAnIntAndACallNestAndReturnThroughTheBackLink(string engine)
    {
        using var m = new TestMachine();
        var g = Setup(m, engine);
        g.WriteIdt(13, Descriptors.Gate(G.Tss2Sel, 0, 5));
        g.WriteIdt(0x41, Descriptors.Gate(Tss3Sel, 0, 5));
        // #GP task: takes the error code off its stack, steps the main task past its faulting
        // 2-byte MOV ES,AX (its saved EIP is that instruction), returns by IRET; re-entered from the top.
        g.Handler(0x22000, a =>
        {
            var start = a.CreateLabel();
            a.Label(ref start);
            a.pop(ecx);
            LogEntry(a, ecx);
            a.add(__dword_ptr[G.Tss + 0x20], 2);
            a.iretd();
            a.jmp(start);
        });
        // INT 0x41 / CALL task: re-entered after its IRET, where it counts the restart.
        g.Handler(0x24000, a =>
        {
            var start = a.CreateLabel();
            a.Label(ref start);
            a.mov(ecx, 0x41);
            LogEntry(a, ecx);
            a.iretd();
            a.inc(__dword_ptr[Restarts]);
            a.jmp(start);
        });
        g.Load(a =>
        {
            a.mov(ebx, 0xB0B0_B0B0);
            a.mov(ax, 0x1234);  // a selector far beyond the GDT: #GP(0x1234)
            a.mov(es, eax);     // 8E C0, two bytes (Iced writes MOV ES,AX with a 66 prefix)
            a.mov(es, eax);     // the #GP task again, after its IRET
            a.@int(0x41);
            a.call(Tss3Gate, 0xF4F4_F4F4); // the offset is ignored
            a.mov(__dword_ptr[0x4F08], ebx);
            a.hlt();
        }, gdtEntries: 10);

        Assert.Equal(StopReason.Halted, m.Run());
        Assert.True(m.Read32(Count) == 4, $"count {m.Read32(Count)}, restarts {m.Read32(Restarts)}, gp {m.Cpu.ExceptionCounts[13]} tss2 eip {m.Read32(G.Tss2 + 0x20):X} esp {m.Read32(G.Tss2 + 0x38):X} main eip {m.Read32(G.Tss + 0x20):X} main eax {m.Read32(G.Tss + 0x28):X} es {m.Read32(G.Tss + 0x48):X} halted at {m.Cpu.State.Eip:X} in task {m.Cpu.State.Tr.Selector:X}, log {string.Join(' ', Enumerable.Range(0, 8).Select(i => m.Read32(Log + (uint)i * 4).ToString("X")))}");
        (uint, uint)[] expected = [(0x1234, 0x6_0000), (0x1234, 0x6_0000), (0x41, 0x6_1000), (0x41, 0x6_1000)];
        for (uint i = 0; i < 4; i++)
            Assert.True(expected[i] == (m.Read32(Log + i * 8), m.Read32(Log + i * 8 + 4)),
                $"entry {i}: {m.Read32(Log + i * 8):X} esp {m.Read32(Log + i * 8 + 4):X}, want {expected[i].Item1:X} esp {expected[i].Item2:X}");
        Assert.Equal(1u, m.Read32(Restarts));
        Assert.Equal(0xB0B0_B0B0u, m.Read32(0x4F08));              // the main task's registers came back
        Assert.Equal((uint)G.TssSel, m.Read32(G.Tss2) & 0xFFFF);   // back links
        Assert.Equal((uint)G.TssSel, m.Read32(Tss3) & 0xFFFF);
        Assert.Equal(0xBu, TssType(m, G.TssSel));                  // main busy, the others free again
        Assert.Equal(0x9u, TssType(m, G.Tss2Sel));
        Assert.Equal(0x9u, TssType(m, Tss3Sel));
        Assert.Equal((uint)G.TssSel, (uint)m.Cpu.State.Tr.Selector);
        Assert.Equal(0u, m.Cpu.State.Eflags & (1u << 14));         // NT clear in the main task
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void JumpsBetweenTasksResumeAfterTheJump(string engine)
    {
        using var m = new TestMachine();
        var g = Setup(m, engine);
        g.Handler(0x24000, a =>
        {
            var start = a.CreateLabel();
            a.Label(ref start);
            a.pushfd();
            a.pop(ecx);         // NT must be clear: a JMP does not nest
            LogEntry(a, ecx);
            a.jmp(G.TssSel, 0);
            a.inc(__dword_ptr[Restarts]);
            a.jmp(start);
        });
        g.Load(a =>
        {
            a.mov(ebx, 0xB0B0_B0B0);
            a.jmp(Tss3Gate, 0);
            a.jmp(Tss3Sel, 0);  // straight to the TSS this time
            a.mov(__dword_ptr[0x4F08], ebx);
            a.hlt();
        }, gdtEntries: 10);

        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(2u, m.Read32(Count));
        Assert.Equal(1u, m.Read32(Restarts));
        Assert.Equal(0u, m.Read32(Log) & (1u << 14));
        Assert.Equal(0u, m.Read32(Log + 8) & (1u << 14));
        Assert.Equal(0xB0B0_B0B0u, m.Read32(0x4F08));
        Assert.Equal(0xBu, TssType(m, G.TssSel));
        Assert.Equal(0x9u, TssType(m, Tss3Sel));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AJumpToABusyTaskFaultsAtTheJump(string engine)
    {
        using var m = new TestMachine();
        var g = Setup(m, engine);
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x26000, 0xE));
        g.Handler(0x26000, a =>
        {
            a.pop(__dword_ptr[0x4F10]);  // error code
            a.pop(__dword_ptr[0x4F14]);  // EIP
            a.hlt();
        });
        uint jmpAt = 0;
        g.Load(a =>
        {
            a.jmp(G.TssSel, 0); // the running task is busy: #GP(sel) before anything changes
            a.hlt();
        }, gdtEntries: 10);
        jmpAt = G.Code;
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal((uint)G.TssSel, m.Read32(0x4F10));
        Assert.Equal(jmpAt, m.Read32(0x4F14));
        Assert.Equal((uint)G.TssSel, (uint)m.Cpu.State.Tr.Selector);
    }
    /// <summary>
    /// IRET with NT set returns to the task in the back link even when that task was never run: here a
    /// busy virtual-8086 TSS (EFLAGS.VM in it), whose UD2 comes back to the first task through an IDT
    /// task gate. The first task continues after its IRET, nested under the V86 task.
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void IretThroughTheBackLinkEntersAV86TaskAndAnExceptionComesBack(string engine)
    {
        using var m = new TestMachine();
        var g = Setup(m, engine);
        g.WriteGdt(8, Descriptors.Segment(Tss3, 0x67, 0x8B, 0)); // busy: an IRET may return to it
        m.Memory.Write32(Tss3 + 0x20, 0x0002);          // IP in the V86 code segment
        m.Memory.Write32(Tss3 + 0x24, 0x2_0002);        // EFLAGS: VM
        m.Memory.Write32(Tss3 + 0x38, 0x1000);          // SP
        m.Memory.Write32(Tss3 + 0x4C, 0x4200);          // CS: real-mode paragraph
        m.Memory.Write32(Tss3 + 0x50, 0x0000);          // SS
        m.Memory.Write32(Tss3 + 0x54, 0x1234);          // DS
        m.Memory.Write32(Tss3 + 0x48, 0x2345);          // ES
        m.Memory.Load(0x4_2002, [0x0F, 0x0B]);          // UD2
        g.WriteIdt(6, Descriptors.Gate(G.TssSel, 0, 5));
        g.Load(a =>
        {
            a.mov(__dword_ptr[G.Tss], (uint)Tss3Sel);   // back link of the running task
            a.pushfd();
            a.or(__dword_ptr[esp], 0x4000);             // NT
            a.popfd();
            a.iretd();
            a.mov(__dword_ptr[0x4F08], 0x600D);
            a.hlt();
        }, gdtEntries: 10);

        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x600Du, m.Read32(0x4F08));
        Assert.Equal((uint)G.TssSel, (uint)m.Cpu.State.Tr.Selector);
        Assert.Equal((uint)Tss3Sel, m.Read32(G.Tss) & 0xFFFF);        // nested under the V86 task
        Assert.NotEqual(0u, m.Cpu.State.Eflags & (1u << 14));          // NT
        Assert.Equal(0u, m.Cpu.State.Eflags & (1u << 17));             // not in V86 mode
        Assert.Equal(0x0002u, m.Read32(Tss3 + 0x20));                  // the V86 task stopped at its UD2 (a fault)
        Assert.NotEqual(0u, m.Read32(Tss3 + 0x24) & (1u << 17));       // with VM in its saved EFLAGS
        Assert.Equal(0x2345u, m.Read32(Tss3 + 0x48) & 0xFFFF);         // and its segments as it had them
        Assert.Equal(0xBu, TssType(m, Tss3Sel));                       // still busy: the main task nests under it
    }

    /// <summary>
    /// A task whose CS selector names a conforming ring-0 code segment with RPL 3 (kvm-unit-tests'
    /// taskswitch2 "lcall with cs.rpl != cs.dpl"): the switch checks a conforming CS for DPL &lt;= RPL,
    /// not DPL == RPL, the task runs at CPL = CS.RPL = 3 on its ring-3 stack, and its IRET returns
    /// through the back link to the ring-0 caller. (QEMU's TCG raises #TS here.)
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void ACallToATaskWithAConformingCodeSegmentRunsItAtTheSelectorsRpl(string engine)
    {
        using var m = new TestMachine();
        var g = Setup(m, engine);
        const ushort conforming = 0x50;
        g.WriteGdt(10, Descriptors.Segment(0, 0xFFFFF, 0x9E)); // conforming code, DPL 0
        m.Memory.Write32(Tss3 + 0x4C, conforming | 3u);
        foreach (uint off in new uint[] { 0x48, 0x50, 0x54, 0x58, 0x5C }) m.Memory.Write32(Tss3 + off, G.UData);
        g.Handler(0x24000, a =>
        {
            a.mov(ax, cs);
            a.mov(__word_ptr[0x4F20], ax);
            a.mov(ax, ss);
            a.mov(__word_ptr[0x4F22], ax);
            a.iretd();
        });
        g.Load(a =>
        {
            a.call(Tss3Sel, 0xF4F4_F4F4);
            a.mov(__dword_ptr[0x4F08], 0x600D);
            a.hlt();
        }, gdtEntries: 11);

        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0L, m.Cpu.ExceptionCounts[10]);
        Assert.Equal(conforming | 3u, m.Read32(0x4F20) & 0xFFFF);
        Assert.Equal((uint)G.UData, m.Read32(0x4F22) & 0xFFFF);
        Assert.Equal(0x600Du, m.Read32(0x4F08));
        Assert.Equal((uint)G.TssSel, m.Read32(Tss3) & 0xFFFF);       // back link
        Assert.Equal(0x9u, TssType(m, Tss3Sel));                     // free again after its IRET
        Assert.Equal((uint)G.KCode, (uint)m.Cpu.State.Cs.Selector);  // the caller at ring 0 again
    }
}
