using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;
using P = Virt.Cpu.Tests.Paravirt.ParavirtGuest;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// The native backend's inline form of calls to hot call-table entries (NativeBlockCompiler's
/// HotCall): the same guest state as the called form and as the interpreter's inline form, the
/// called form again as soon as the stub is overwritten, the table moved or disabled, or the code
/// runs outside ring 0. The inline form pushes no return address, so the dword below ESP tells the
/// guest which form ran.
/// </summary>
public sealed class NativeInlineTests
{
    private const uint Table = 0x8000, Table2 = 0xA000;

    private static uint Entry(VirtCall c, uint table = Table) => table + (uint)c * VirtAbi.EntrySize;

    private static void Call(Assembler a, VirtCall c, uint table = Table) => a.call(Entry(c, table));

    private static TestMachine Machine(string engine, bool inline, Action<Assembler> body)
    {
        ParavirtFeatures features = inline ? ParavirtFeatures.All : ParavirtFeatures.All & ~ParavirtFeatures.InlineHotCalls;
        return P.Machine(engine, features, a => { P.Wrmsr(a, VirtAbi.MsrCallTable, Table | 1); body(a); });
    }

    /// <summary>Registers, EFLAGS, EIP and the output area after the run.</summary>
    private static (uint[] Regs, uint Eflags, uint Eip, uint[] Out) Final(TestMachine m)
    {
        var regs = new uint[8];
        for (int r = 0; r < 8; r++) regs[r] = m.Cpu.State[r];
        var output = new uint[16];
        for (int k = 0; k < output.Length; k++) output[k] = m.Read32(P.Out + 4 * (uint)k);
        return (regs, m.Cpu.State.Eflags, m.Cpu.State.Eip, output);
    }

    /// <summary>Every hot entry but irq_enable_and_halt, on changing arithmetic flags and DF, in a loop.</summary>
    private static void HotLoop(Assembler a)
    {
        a.mov(esi, 0);
        var loop = a.CreateLabel();
        var noDf = a.CreateLabel();
        a.Label(ref loop);
        a.mov(eax, esi);
        a.imul(eax, eax, 0x0913_5F31);
        a.add(eax, 0x7FFF_FFF0);                  // CF, OF, SF, ZF, PF, AF vary by iteration
        Call(a, VirtCall.SaveFl);
        a.mov(ebx, eax);
        a.xor(__dword_ptr[P.Out], eax);
        Call(a, VirtCall.Cli);
        Call(a, VirtCall.SaveFl);
        a.or(__dword_ptr[P.Out + 4], eax);
        a.mov(eax, ebx);
        a.test(esi, 1);
        a.jz(noDf);
        a.or(eax, 0x400 | 0x1);                   // DF and CF through restore_fl
        a.Label(ref noDf);
        Call(a, VirtCall.RestoreFl);
        a.adc(__dword_ptr[P.Out + 8], esi);       // reads the restored CF
        Call(a, VirtCall.SaveFl);
        a.add(__dword_ptr[P.Out + 12], eax);
        a.mov(eax, ebx);
        Call(a, VirtCall.RestoreFl);
        Call(a, VirtCall.Sti);
        a.inc(esi);
        a.cmp(esi, 60);
        a.jb(loop);
        a.pushfd();
        a.pop(__dword_ptr[P.Out + 16]);
        a.mov(__dword_ptr[P.Out + 20], esp);
    }

    [Fact]
    public void Native_inline_form_leaves_the_state_of_the_called_form_and_of_the_interpreter()
    {
        var runs = new List<(string Name, (uint[] Regs, uint Eflags, uint Eip, uint[] Out) State, long Inlined, long Native)>();
        foreach ((string engine, bool inline) in new[] { (Engines.Native, true), (Engines.Native, false), (Engines.Interpreter, true), (Engines.Interpreter, false) })
        {
            using var m = Machine(engine, inline, a =>
            {
                HotLoop(a);
                a.hlt();
            });
            Assert.Equal(StopReason.Halted, m.Run());
            runs.Add(($"{engine} inline={inline}", Final(m), m.Cpu.InlinedHotCalls, m.Cpu.NativeInlinedHotCalls));
        }
        var reference = runs[0].State;
        foreach (var run in runs)
        {
            Assert.True(reference.Regs.SequenceEqual(run.State.Regs), run.Name);
            Assert.True(reference.Out.SequenceEqual(run.State.Out), run.Name);
            Assert.Equal(reference.Eflags, run.State.Eflags);
            Assert.Equal(reference.Eip, run.State.Eip);
        }
        Assert.Equal(0x80000u, reference.Out[5]);                                   // the stack is where it was
        Assert.Equal(0x200u, reference.Out[4] & 0x200);
        Assert.Equal(0u, reference.Out[1] & 0x200);                                 // IF clear inside the section every time
        // 7 calls an iteration, 60 iterations; the first misses the TLB (the table page not yet
        // touched) and is called, on both engines. Native code ran the inline calls itself.
        Assert.Equal(runs[2].Inlined, runs[0].Inlined);
        Assert.Equal(7 * 60 - 1, runs[0].Inlined);
        Assert.True(runs[0].Native > 7 * 50, $"native code inlined {runs[0].Native} calls");
        Assert.Equal(0L, runs[1].Inlined);
        Assert.Equal(0L, runs[2].Native);
    }

    [Theory]
    [InlineData(Engines.Native)]
    [InlineData(Engines.Interpreter)]
    public void Inlined_irq_enable_and_halt_halts_after_the_call_site(string engine)
    {
        using var m = Machine(engine, true, a =>
        {
            a.cli();
            Call(a, VirtCall.SaveFl);                                               // called (the table page not in the TLB yet)
            Call(a, VirtCall.SaveFl);
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(ebx, 0x1234);
            Call(a, VirtCall.IrqEnableAndHalt);
            a.mov(ebx, 0xDEAD);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x80000u, m.Cpu.State.Esp);                                    // nothing pushed: not halted in the stub
        Assert.Equal(0x1234u, m.Cpu.State.Ebx);
        Assert.Equal(0x200u, m.Cpu.State.Eflags & 0x200);
        Assert.Equal(0u, m.Read32(P.Out) & 0x200);
        Assert.InRange(m.Cpu.State.Eip, G.Code, G.Code + 0x100);                    // after the call site, in the guest's code
        Assert.Equal(2L, m.Cpu.InlinedHotCalls);
        if (engine == Engines.Native) Assert.Equal(2L, m.Cpu.NativeInlinedHotCalls);
    }

    /// <summary>
    /// 8 iterations of one call site to cli; after 4 the <paramref name="change"/> runs. The dword
    /// below ESP after each call goes to Out[i]: 0 when inlined, the return address when called.
    /// </summary>
    private static uint[] CallSiteForms(string engine, Action<Assembler> change, out TestMachine machine)
    {
        var m = Machine(engine, true, a =>
        {
            a.mov(esi, 0);
            a.mov(edi, 0);
            var loop = a.CreateLabel();
            var same = a.CreateLabel();
            a.Label(ref loop);
            a.mov(__dword_ptr[esp - 4], 0);
            Call(a, VirtCall.Cli);
            a.mov(eax, __dword_ptr[esp - 4]);
            a.mov(__dword_ptr[esi * 4 + P.Out], eax);
            a.inc(esi);
            a.cmp(esi, 4);
            a.jne(same);
            change(a);
            a.Label(ref same);
            a.cmp(esi, 8);
            a.jb(loop);
            a.hlt();
        });
        machine = m;
        Assert.Equal(StopReason.Halted, m.Run());
        var forms = new uint[8];
        for (int k = 0; k < 8; k++) forms[k] = m.Read32(P.Out + 4 * (uint)k);
        Assert.NotEqual(0u, forms[0]);                                              // the first call misses the TLB: called
        for (int k = 1; k < 4; k++) Assert.Equal(0u, forms[k]);                     // then inline
        return forms;
    }

    [Theory]
    [InlineData(Engines.Native)]
    [InlineData(Engines.Interpreter)]
    public void A_stub_the_guest_overwrites_is_called_from_a_compiled_call_site(string engine)
    {
        // inc edi; ret over cli; ret
        uint[] forms = CallSiteForms(engine, a => a.mov(__word_ptr[Entry(VirtCall.Cli)], 0xC347), out TestMachine m);
        using (m)
        {
            for (int k = 4; k < 8; k++) Assert.Equal(forms[0], forms[k]);
            Assert.Equal(4u, m.Cpu.State.Edi);                                      // the guest's own code ran each time
            Assert.Equal(3L, m.Cpu.InlinedHotCalls);
            if (engine == Engines.Native) Assert.Equal(3L, m.Cpu.NativeInlinedHotCalls);
        }
    }

    [Theory]
    [InlineData(Engines.Native, true)]
    [InlineData(Engines.Native, false)]
    [InlineData(Engines.Interpreter, true)]
    [InlineData(Engines.Interpreter, false)]
    public void Moving_or_disabling_the_table_makes_the_old_entries_called(string engine, bool move)
    {
        // The old page keeps its stubs (the guest's memory): they are plain code now, called.
        uint[] forms = CallSiteForms(engine, a => P.Wrmsr(a, VirtAbi.MsrCallTable, move ? Table2 | 1 : Table), out TestMachine m);
        using (m)
        {
            for (int k = 4; k < 8; k++) Assert.Equal(forms[0], forms[k]);
            Assert.Equal(3L, m.Cpu.InlinedHotCalls);
            if (engine == Engines.Native) Assert.Equal(3L, m.Cpu.NativeInlinedHotCalls);
        }
    }

    [Theory]
    [InlineData(Engines.Native)]
    [InlineData(Engines.Interpreter)]
    public void Ring_3_code_calls_the_stub_and_faults_there_even_where_ring_0_inlined(string engine)
    {
        const uint User = 0x30000, Shared = 0x31000, GpHandler = 0x23000;
        using var m = Machine(engine, true, a =>
        {
            // Ring 0 runs the shared function a few times (inlined from the second), then ring 3 runs it.
            a.mov(esi, 0);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(eax, Shared);
            a.call(eax);
            a.inc(esi);
            a.cmp(esi, 4);
            a.jb(loop);
            a.push(G.UData);
            a.push(0x70000);
            a.pushfd();
            a.push(G.UCode);
            a.push(User);
            a.iretd();
        });
        var g = new G(m);
        g.Handler(Shared, a =>
        {
            Call(a, VirtCall.Cli);
            Call(a, VirtCall.Sti);
            a.ret();
        });
        g.Handler(User, a =>
        {
            a.mov(ax, G.UData);
            a.mov(ds, ax);
            a.mov(es, ax);                                                          // flat segments: native code may run
            a.mov(al, __byte_ptr[Table]);                                           // the table page in ring 3's TLB too
            a.mov(eax, Shared);
            a.call(eax);
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        g.WriteIdt(13, Descriptors.Gate(G.KCode, GpHandler, 0xE));
        g.Handler(GpHandler, a =>
        {
            a.mov(eax, __dword_ptr[esp + 4]);                                       // EIP (past the error code)
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(eax, __dword_ptr[esp + 16]);                                      // the user ESP
            a.mov(__dword_ptr[P.Out + 4], eax);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(Entry(VirtCall.Cli), m.Read32(P.Out));                        // CLI at CPL 3 with IOPL 0: #GP in the stub
        Assert.Equal(0x70000u - 8, m.Read32(P.Out + 4));                           // both return addresses pushed
        Assert.Equal(7L, m.Cpu.InlinedHotCalls);                                    // 8 calls in ring 0, the first called (a TLB miss)
        if (engine == Engines.Native) Assert.True(m.Cpu.NativeInlinedHotCalls > 0);
    }
}
