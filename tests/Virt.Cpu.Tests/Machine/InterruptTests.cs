using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Machine;

/// <summary>IDT delivery: privilege changes through the TSS, gate DPL checks, faults, #DF, triple fault.</summary>
public class InterruptTests
{
    private const uint Record = 0x5000;

    /// <summary>Body code that drops to ring 3 at userEntry with a ring-3 stack.</summary>
    private static void EnterRing3(Assembler a, uint userEntry)
    {
        a.push(G.UData);
        a.push(0x70000);
        a.pushfd();
        a.push(G.UCode);
        a.push(userEntry);
        a.iretd();
    }

    [Fact]
    public void Int80FromRing3SwitchesToTheTssStackAndIretReturns()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteIdt(0x80, Descriptors.Gate(G.KCode, 0x20000, 0xF, dpl: 3));
        g.Handler(0x20000, a =>
        {
            a.mov(ax, G.KData);                              // DS was nulled on the way to ring 3
            a.mov(ds, ax);
            a.mov(__dword_ptr[Record], esp);                 // ring-0 stack
            a.mov(eax, __dword_ptr[esp + 4]);                // CS pushed
            a.mov(__dword_ptr[Record + 4], eax);
            a.mov(eax, __dword_ptr[esp + 12]);               // old ESP
            a.mov(__dword_ptr[Record + 8], eax);
            a.mov(ax, cs);
            a.movzx(eax, ax);
            a.mov(__dword_ptr[Record + 12], eax);
            a.iretd();
        });
        g.Handler(0x30000, a =>
        {
            a.mov(ebx, 42);
            a.@int(0x80);
            a.mov(ax, cs);                                    // back in ring 3
            a.movzx(ecx, ax);
            a.mov(edi, esp);
            a.jmp(0x30000 + 0x100);                           // spin target: ends the test via budget
        });
        g.Handler(0x30100, a => { var l = a.CreateLabel(); a.Label(ref l); a.jmp(l); });
        g.Load(a => EnterRing3(a, 0x30000));
        m.Run(100_000);
        Assert.Equal(0x80000u - 20, m.Read32(Record));            // SS, ESP, EFLAGS, CS, EIP pushed
        Assert.Equal((uint)G.UCode, m.Read32(Record + 4));
        Assert.Equal(0x70000u, m.Read32(Record + 8));
        Assert.Equal((uint)G.KCode, m.Read32(Record + 12));
        Assert.Equal((uint)G.UCode, m.Cpu.State.Ecx);
        Assert.Equal(0x70000u, m.Cpu.State.Edi);
        Assert.Equal(3, m.Cpu.State.Cpl);
    }

    [Fact]
    public void IntThroughARing0GateFromRing3IsAGeneralProtectionFault()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteIdt(0x40, Descriptors.Gate(G.KCode, 0x20000, 0xE, dpl: 0));
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x21000, 0xE));
        g.Handler(0x21000, a => { a.mov(bx, G.KData); a.mov(ds, bx); a.pop(eax); a.mov(__dword_ptr[Record], eax); a.hlt(); });
        g.Handler(0x30000, a => { a.@int(0x40); a.hlt(); });
        g.Load(a => EnterRing3(a, 0x30000));
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x40u * 8 + 2, m.Read32(Record));
    }

    [Fact]
    public void DivideErrorReturnsToTheFaultingInstruction()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteIdt(0, Descriptors.Gate(G.KCode, 0x20000, 0xE));
        g.Handler(0x20000, a =>
        {
            a.mov(ebx, __dword_ptr[esp]);
            a.mov(__dword_ptr[Record], ebx);
            a.mov(ecx, 2);                                     // fix the divisor and retry
            a.iretd();
        });
        uint divAt = 0;
        g.Load(a =>
        {
            a.mov(eax, 100);
            a.xor(edx, edx);
            a.xor(ecx, ecx);
            var l = a.CreateLabel();
            a.Label(ref l);
            a.div(ecx);
            a.hlt();
        });
        // The DIV is the 4th instruction of the body: mov(5) xor(2) xor(2).
        divAt = G.Code + 9;
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(divAt, m.Read32(Record));
        Assert.Equal(50u, m.Cpu.State.Eax);
    }

    [Fact]
    public void FaultWhileDeliveringAFaultIsADoubleFault()
    {
        using var m = new TestMachine();
        var g = new G(m);
        // #GP's gate is not present: delivering #GP raises #NP, both contributory: #DF.
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x21000, 0xE) & ~(1UL << 47));
        g.WriteIdt(8, Descriptors.Gate(G.KCode, 0x22000, 0xE));
        g.Handler(0x22000, a => { a.pop(eax); a.mov(__dword_ptr[Record], 0xDF); a.mov(__dword_ptr[Record + 4], eax); a.hlt(); });
        g.Load(a =>
        {
            a.mov(ax, 0x7F8);                                  // beyond the GDT: #GP
            a.mov(ds, ax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0xDFu, m.Read32(Record));
        Assert.Equal(0u, m.Read32(Record + 4));
    }

    [Fact]
    public void TripleFaultShutsTheVmDown()
    {
        using var m = new TestMachine();
        var g = new G(m);
        // An empty IDT: every exception faults again, #DF too.
        g.Load(a =>
        {
            a.lidt(__[0x600]);                                 // limit 0 table
            a.xor(ecx, ecx);
            a.div(ecx);
        });
        m.Memory.Write64(0x600, 0);
        Assert.Equal(StopReason.Shutdown, m.Cpu.Run(1_000_000));
        Assert.Contains("triple fault", m.Cpu.ShutdownReason);
    }

    [Fact]
    public void DoubleFaultThroughATaskGateRunsInTheNewTask()
    {
        using var m = new TestMachine();
        var g = new G(m);
        // Linux's approach: #DF goes through a task gate to a TSS with a known-good stack.
        g.WriteIdt(8, Descriptors.Gate(G.Tss2Sel, 0, 5));
        uint t2 = G.Tss2;
        m.Memory.Write32(t2 + 0x1C, 0);                        // CR3
        m.Memory.Write32(t2 + 0x20, 0x22000);                  // EIP
        m.Memory.Write32(t2 + 0x24, 0x2);                      // EFLAGS
        m.Memory.Write32(t2 + 0x38, 0x60000);                  // ESP
        foreach (uint off in new uint[] { 0x48, 0x50, 0x54, 0x58, 0x5C }) m.Memory.Write32(t2 + off, G.KData);
        m.Memory.Write32(t2 + 0x4C, G.KCode);
        g.Handler(0x22000, a =>
        {
            a.pop(eax);                                        // the #DF error code (0)
            a.mov(__dword_ptr[Record], esp);
            a.str(bx);
            a.pushfd();
            a.pop(ecx);
            a.hlt();
        });
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x21000, 0xE) & ~(1UL << 47));
        g.Load(a => { a.mov(ax, 0x7F8); a.mov(ds, ax); a.hlt(); });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x60000u, m.Read32(Record));
        Assert.Equal((uint)G.Tss2Sel, m.Cpu.State.Ebx & 0xFFFF);
        Assert.NotEqual(0u, m.Cpu.State.Ecx & (1u << 14));     // NT: nested task
        Assert.Equal((uint)G.TssSel, m.Read32(t2) & 0xFFFF);   // back link
    }

    [Fact]
    public void CallGateRaisesPrivilegeAndCopiesParameters()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteGdt(7, Descriptors.Gate(G.KCode, 0x20000, 0xC, dpl: 3, paramCount: 1));
        g.Handler(0x20000, a =>
        {
            a.mov(ax, G.KData);
            a.mov(ds, ax);
            a.mov(eax, __dword_ptr[esp + 8]);                  // the copied parameter
            a.mov(__dword_ptr[Record], eax);
            a.mov(ax, cs);
            a.movzx(eax, ax);
            a.mov(__dword_ptr[Record + 4], eax);
            a.retf(4);
        });
        g.Handler(0x30000, a =>
        {
            a.push(0x5A5A);
            a.call(G.Selector(7, 3), 0);
            a.mov(edi, esp);
            var l = a.CreateLabel(); a.Label(ref l); a.jmp(l);
        });
        g.Load(a => EnterRing3(a, 0x30000), gdtEntries: 8);
        m.Run(100_000);
        Assert.Equal(0x5A5Au, m.Read32(Record));
        Assert.Equal((uint)G.KCode, m.Read32(Record + 4));
        Assert.Equal(0x70000u, m.Cpu.State.Edi);
        Assert.Equal(3, m.Cpu.State.Cpl);
    }

    [Fact]
    public void JmpThroughACallGateStaysAtTheSamePrivilege()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteGdt(7, Descriptors.Gate(G.KCode, 0x20000, 0xC));
        g.Handler(0x20000, a => { a.mov(ax, cs); a.movzx(ebx, ax); a.mov(edi, esp); a.hlt(); });
        g.Load(a => a.jmp(G.Selector(7), 0));
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal((uint)G.KCode, m.Cpu.State.Ebx);
        Assert.Equal(0x80000u, m.Cpu.State.Edi);                // JMP pushes nothing
    }

    [Fact]
    public void JmpThroughACallGateToAMorePrivilegedSegmentIsRefused()
    {
        using var m = new TestMachine();
        var g = new G(m);
        g.WriteGdt(7, Descriptors.Gate(G.KCode, 0x20000, 0xC, dpl: 3));
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x21000, 0xE));
        g.Handler(0x21000, a => { a.mov(bx, G.KData); a.mov(ds, bx); a.pop(eax); a.mov(__dword_ptr[Record], eax); a.hlt(); });
        g.Handler(0x30000, a => { a.jmp(G.Selector(7, 3), 0); a.hlt(); });
        g.Load(a => EnterRing3(a, 0x30000));
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal((uint)G.KCode, m.Read32(Record));           // #GP(target code selector)
    }
}
