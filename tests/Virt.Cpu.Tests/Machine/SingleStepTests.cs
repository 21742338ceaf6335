using System.Text;
using Iced.Intel;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>
/// Single-step (EFLAGS.TF): a #DB trap after every instruction, with two rules a plain
/// per-instruction trap gets wrong. A REP string instruction traps after each iteration with the
/// saved EIP still on the instruction (ECX counting down), and MOV SS / POP SS hold the trap back
/// until the instruction after them has run (the interrupt shadow covers debug traps too). The #DB
/// handler logs the saved EIP and ECX of every trap. INT n, INT3 and INTO run with TF set take no
/// trap of their own: their handler starts with TF clear and the trap is discarded with it.
/// </summary>
public class SingleStepTests
{
    private const uint Handler = 0x5000, IretHandler = 0x5100, Log = 0x6_0000, LogCount = 0x5_FFF0;

    private static void WriteHandler(Virt.Cpu.Memory.PhysicalMemory mem)
    {
        var h = new Assembler(32);
        h.push(eax);
        h.push(edx);
        h.mov(eax, __dword_ptr[LogCount]);
        h.mov(edx, __dword_ptr[esp + 8]); // the saved EIP
        h.mov(__dword_ptr[eax * 8 + Log], edx);
        h.mov(__dword_ptr[eax * 8 + Log + 4], ecx);
        h.inc(__dword_ptr[LogCount]);
        h.pop(edx);
        h.pop(eax);
        h.iretd();
        mem.Load(Handler, TestMachine.Assemble(h, Handler));
        // IDT vector 1 (the table Guest.Flat builds at 0x1000): a 32-bit interrupt gate to the handler.
        mem.Write64(0x1000 + 8, Descriptors.Gate(0x08, Handler, 0xE));
        // INT3 and INT 0x1F: a handler that only returns (a trap inside it would log its address).
        mem.Load(IretHandler, [0xCF]);
        mem.Write64(0x1000 + 3 * 8, Descriptors.Gate(0x08, IretHandler, 0xE));
        mem.Write64(0x1000 + 0x1F * 8, Descriptors.Gate(0x08, IretHandler, 0xE));
    }

    /// <summary>Runs the body with TF set (from the instruction after POPFD until TF is cleared) and returns the log.</summary>
    private static List<(uint Eip, uint Ecx)> Trace(string engine, Func<Assembler, Label[]> body, out ulong[] labels)
    {
        Label[]? ls = null;
        void Code(Assembler a)
        {
            a.pushfd();
            a.or(__dword_ptr[esp], 0x100);
            a.popfd();
            ls = body(a);
            a.pushfd();
            a.and(__dword_ptr[esp], ~0x100);
            a.popfd();
        }
        // The same code assembled once more to learn where the labels landed.
        var probe = new Assembler(32);
        Code(probe);
        probe.hlt();
        var result = probe.Assemble(new StreamCodeWriter(new MemoryStream()), Guest.CodeBase, BlockEncoderOptions.ReturnNewInstructionOffsets);
        labels = ls!.Select(l => result.GetLabelRIP(l)).ToArray();

        using var m = Guest.Flat(Code, memory: WriteHandler, engine: engine);
        var log = new List<(uint, uint)>();
        uint n = m.Read32(LogCount);
        for (uint i = 0; i < n; i++) log.Add((m.Read32(Log + i * 8), m.Read32(Log + i * 8 + 4)));
        return log;
    }

    private static string Show(IEnumerable<(uint Eip, uint Ecx)> log)
    {
        var sb = new StringBuilder();
        foreach (var (eip, ecx) in log) sb.Append($"{eip:X}/{ecx} ");
        return sb.ToString();
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void RepStringTrapsAfterEachIterationWithEipOnTheInstruction(string engine)
    {
        var log = Trace(engine, a =>
        {
            var movEdi = a.CreateLabel(); var rep = a.CreateLabel(); var after = a.CreateLabel(); var movsb = a.CreateLabel(); var end = a.CreateLabel();
            a.mov(ecx, 3);
            a.Label(ref movEdi);
            a.mov(edi, Guest.Data);
            a.Label(ref rep);
            a.rep.stosb();
            a.Label(ref after);
            a.mov(esi, Guest.Data);
            a.Label(ref movsb);
            a.rep.movsb(); // ECX is 0: no iteration, one trap after it
            a.Label(ref end);
            return [movEdi, rep, after, movsb, end];
        }, out var at);
        uint movEdi = (uint)at[0], rep = (uint)at[1], after = (uint)at[2], movsb = (uint)at[3], end = (uint)at[4];
        (uint, uint)[] expected = [(movEdi, 3), (rep, 3), (rep, 2), (rep, 1), (after, 0), (movsb, 0), (end, 0)];
        Assert.True(log.Take(expected.Length).SequenceEqual(expected), $"expected {Show(expected)}\nactual   {Show(log)}");
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void NoTrapAfterMovSsOrPopSs(string engine)
    {
        var log = Trace(engine, a =>
        {
            var movSs = a.CreateLabel(); var afterMovSs = a.CreateLabel(); var push = a.CreateLabel(); var pop = a.CreateLabel();
            var afterPopSs = a.CreateLabel(); var end = a.CreateLabel();
            a.mov(ax, ss);
            a.Label(ref movSs);
            a.mov(ss, ax);
            a.Label(ref afterMovSs);
            a.inc(ecx);          // no trap before this one: the shadow of MOV SS
            a.Label(ref push);
            a.push(ss);
            a.Label(ref pop);
            a.pop(ss);
            a.Label(ref afterPopSs);
            a.inc(ecx);          // nor before this one: POP SS
            a.Label(ref end);
            return [movSs, afterMovSs, push, pop, afterPopSs, end];
        }, out var at);
        uint movSs = (uint)at[0], afterMovSs = (uint)at[1], push = (uint)at[2], pop = (uint)at[3], afterPopSs = (uint)at[4], end = (uint)at[5];
        var eips = log.Select(e => e.Eip).ToList();
        // Traps after MOV AX,SS (EIP at MOV SS), after the INC that follows MOV SS (none at afterMovSs),
        // after PUSH SS (at POP SS), after the INC that follows POP SS (none at afterPopSs).
        Assert.True(eips.Take(4).SequenceEqual([movSs, push, pop, end]),
            $"traps at {string.Join(' ', eips.Select(e => e.ToString("X")))}; MOV SS at {movSs:X}, after it {afterMovSs:X}, PUSH SS at {push:X}, after POP SS {afterPopSs:X}, end {end:X}");
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void SoftwareInterruptsTakeNoTrapOfTheirOwn(string engine)
    {
        var log = Trace(engine, a =>
        {
            var int3At = a.CreateLabel(); var intNAt = a.CreateLabel(); var incAt = a.CreateLabel(); var end = a.CreateLabel();
            a.mov(ecx, 1);
            a.Label(ref int3At);
            a.int3();      // enters its handler with TF clear: no trap there, none on the way back
            a.Label(ref intNAt);
            a.@int(0x1F);  // the same for INT n (Linux's INT 0x80 with TF set)
            a.Label(ref incAt);
            a.inc(ecx);
            a.Label(ref end);
            return [int3At, intNAt, incAt, end];
        }, out var at);
        uint int3At = (uint)at[0], intNAt = (uint)at[1], incAt = (uint)at[2], end = (uint)at[3];
        var eips = log.Select(e => e.Eip).ToList();
        // Traps after MOV ECX (EIP at INT3), then none until after the INC (EIP at end).
        Assert.True(eips.Take(2).SequenceEqual([int3At, end]),
            $"traps at {string.Join(' ', eips.Select(e => e.ToString("X")))}; INT3 at {int3At:X}, INT 0x1F at {intNAt:X}, INC at {incAt:X}, end {end:X}, handler {IretHandler:X}");
    }
}
