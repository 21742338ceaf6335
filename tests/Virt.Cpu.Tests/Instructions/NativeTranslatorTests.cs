using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using Virt.Cpu.Translation;
using Virt.Pc.Boot;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// The native backend (guest instructions copied 1:1 into x86-64 host code) against the reference:
/// the same guest code runs on a CPU that compiles every block at its first execution (threshold 0)
/// and on one that interprets every instruction through the generic executor. Registers, flags,
/// EIP, memory and the retired-instruction count must agree: on random straight-line streams, on
/// random loops (which stay inside the compiled code) run in random budget slices, every condition
/// after every producer, budget stops, stop requests, page faults taken from inside compiled loops,
/// and code that rewrites itself.
/// </summary>
public class NativeTranslatorTests
{
    /// <summary>Engine settings beyond the engine itself (a variant of the native backend).</summary>
    protected virtual void Configure(Cpu cpu) { }

    private void Translate(TestMachine m)
    {
        Configure(m.Cpu);
        m.Cpu.Engine = CpuEngine.Native;
        m.Cpu.TranslationThreshold = 0;
    }

    private static void Reference(TestMachine m)
    {
        m.Cpu.Engine = CpuEngine.Interpreter;
        m.Cpu.GenericOnly = true;
    }

    /// <summary>
    /// The native backend runs the host's own instructions, so flags the SDM leaves undefined (AF
    /// after a shift, SF/ZF/AF/PF after IMUL, ...) are the host CPU's, which need not be the
    /// interpreter's choice. So the random programs get a CMP EAX, EAX after every instruction
    /// that leaves a flag undefined (both engines run the same code), so every flag a later
    /// instruction reads, and every flag compared at the end, is defined.
    /// </summary>
    private byte[] ProgramCode(int seed, Action<Assembler, Random> program)
    {
        var a = new Assembler(32);
        program(a, new Random(seed * 7919 + 1));
        a.hlt();
        byte[] code = TestMachine.Assemble(a, Guest.CodeBase);
        var decoder = Iced.Intel.Decoder.Create(32, new ByteArrayCodeReader(code));
        decoder.IP = Guest.CodeBase;
        var list = new List<Instruction>();
        while (decoder.IP < Guest.CodeBase + (ulong)code.Length)
        {
            decoder.Decode(out Instruction i);
            list.Add(i);
            if ((i.RflagsUndefined & (RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.PF | RflagsBits.CF)) != 0)
            {
                // IP inside the previous instruction: unique, and never a branch target.
                Instruction cmp = Instruction.Create(Code.Cmp_rm32_r32, Register.EAX, Register.EAX);
                cmp.IP = i.IP + 1;
                list.Add(cmp);
            }
        }
        var stream = new MemoryStream();
        if (!BlockEncoder.TryEncode(32, new InstructionBlock(new StreamCodeWriter(stream), list, Guest.CodeBase), out string? error, out _))
            throw new InvalidOperationException(error);
        return stream.ToArray();
    }

    private static void AssertSameState(TestMachine expected, TestMachine actual, string what)
    {
        for (int r = 0; r < 8; r++)
            Assert.True(expected.Cpu.State[r] == actual.Cpu.State[r], $"{what}: reg {r} reference {expected.Cpu.State[r]:X8} translated {actual.Cpu.State[r]:X8}");
        Assert.True(expected.Cpu.State.Eflags == actual.Cpu.State.Eflags, $"{what}: eflags reference {expected.Cpu.State.Eflags:X} translated {actual.Cpu.State.Eflags:X}");
        Assert.True(expected.Cpu.State.Eip == actual.Cpu.State.Eip, $"{what}: eip reference {expected.Cpu.State.Eip:X8} translated {actual.Cpu.State.Eip:X8}");
        Assert.True(expected.Cpu.InstructionsRetired == actual.Cpu.InstructionsRetired,
            $"{what}: retired reference {expected.Cpu.InstructionsRetired} translated {actual.Cpu.InstructionsRetired}");
    }

    private static void AssertSameMemory(TestMachine expected, TestMachine actual, uint at, int length, string what)
    {
        var a = new byte[length]; var b = new byte[length];
        expected.Memory.Read(at, a); actual.Memory.Read(at, b);
        Assert.True(a.AsSpan().SequenceEqual(b), $"{what}: memory at {at:X8} differs");
    }

    /// <summary>One random program on a fresh machine: registers, a 512-byte data window at ESI, a stack.</summary>
    private TestMachine Prepare(int seed, Action<Assembler, Random> program, Action<TestMachine> engine)
    {
        var rng = new Random(seed);
        var init = new uint[8];
        for (int i = 0; i < 8; i++) init[i] = (uint)rng.Next() ^ ((uint)rng.Next() << 16);
        var data = new byte[512];
        rng.NextBytes(data);
        var m = new TestMachine();
        engine(m);
        FlatLoader.Load32(m.Cpu, ProgramCode(seed, program), Guest.CodeBase, Guest.CodeBase);
        m.Memory.Load(Guest.Data, data);
        for (int i = 0; i < 8; i++) m.Cpu.State[i] = init[i];
        m.Cpu.State.Esi = Guest.Data; m.Cpu.State.Edi = (uint)rng.Next(0, 16); m.Cpu.State.Esp = 0x9_0000;
        m.Cpu.State.Eflags = 0x2 | (init[0] & 0x8D5); // random arithmetic flags on entry
        return m;
    }

    private static void RunToHalt(TestMachine m, Random? slices)
    {
        for (int guard = 0; guard < 1_000_000; guard++)
        {
            var r = m.Run(slices == null ? 10_000_000 : slices.Next(1, 200));
            if (r == StopReason.Halted) return;
        }
        Assert.Fail("guest did not halt");
    }

    private void Compare(int seed, Action<Assembler, Random> program, bool slices, string what)
    {
        using var reference = Prepare(seed, program, Reference);
        using var translated = Prepare(seed, program, Translate);
        RunToHalt(reference, null);
        RunToHalt(translated, slices ? new Random(seed) : null);
        Assert.True(translated.Cpu.BlocksTranslated > 0, $"{what}: nothing was translated");
        AssertSameState(reference, translated, $"{what} seed {seed}");
        AssertSameMemory(reference, translated, Guest.Data, 512, $"{what} seed {seed}");
        AssertSameMemory(reference, translated, 0x9_0000 - 0x100, 0x100, $"{what} seed {seed} stack");
    }

    [Fact]
    public void TranslatedStraightLineStreamsAgreeWithGenericExecutor()
    {
        for (int seed = 1; seed <= 60; seed++)
            Compare(seed, (a, rng) => DifferentialTests.Emit(a, rng, 300, code16: false), slices: false, "stream");
    }

    /// <summary>
    /// Random loop bodies closed by DEC EBX / JNZ to the block start: the loop runs inside the
    /// compiled method. The translated CPU runs in random budget slices, so loops are left and
    /// re-entered mid-way and the iteration limit is exercised.
    /// </summary>
    [Fact]
    public void TranslatedLoopsAgreeWithGenericExecutor()
    {
        for (int seed = 1; seed <= 60; seed++)
        {
            Compare(seed, (a, rng) =>
            {
                var top = a.CreateLabel();
                a.mov(ebx, rng.Next(1, 300));
                a.Label(ref top);
                DifferentialTests.Emit(a, rng, rng.Next(1, 40), code16: false);
                a.dec(ebx);
                a.jne(top);
            }, slices: seed % 2 == 0, "loop");
        }
    }

    private static readonly uint[] s_edgeValues = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x8000_0001, 0x7FFF_FFFE, 0x1234_5678];

    /// <summary>
    /// Every condition after every flag producer, on edge-case
    /// operands, as SETcc, Jcc and CMOVcc: each result is stored, and the stores must match the
    /// generic executor's byte for byte.
    /// </summary>
    [Fact]
    public void EveryConditionAfterEveryProducerAgreesWithGenericExecutor()
    {
        const uint Out = 0x30_0000, Pairs = 0x2F_0000;
        Action<Assembler>[] producers =
        [
            a => a.add(eax, ecx), a => a.sub(eax, ecx), a => a.cmp(eax, ecx), a => a.and(eax, ecx),
            a => a.or(eax, ecx), a => a.xor(eax, ecx), a => a.test(eax, ecx), a => a.inc(eax), a => a.dec(eax),
            a => a.cmp(eax, 0x7FFF_FFFF), a => a.add(al, cl), a => a.cmp(al, cl), a => a.sub(al, 0x80), a => a.shl(eax, 1),
            a => a.shl(eax, 7), a => a.shr(eax, 1), a => a.shr(eax, 9), a => a.sar(eax, 1), a => a.sar(eax, 31),
            a => { a.shr(eax, 3); a.inc(ecx); }, a => { a.xor(al, cl); a.shr(eax, 8); },
            a => { a.imul(eax, ecx); a.inc(eax); },
            // IMUL leaves SF, ZF, AF and PF undefined (SDM): the native backend reads the host's.
        ];
        TestMachine Build(Action<TestMachine> engine)
        {
            var m = new TestMachine();
            engine(m);
            m.Load32(Guest.CodeBase, a =>
            {
                a.mov(edi, Out);
                a.mov(ebx, 1);
                foreach (var producer in producers)
                {
                    // A loop over the operand pairs, so each block is compiled once and run 64 times.
                    var next = a.CreateLabel();
                    a.mov(esi, Pairs);
                    a.Label(ref next);
                    a.mov(eax, __dword_ptr[esi]); a.mov(ecx, __dword_ptr[esi + 4]);
                    producer(a);
                    for (int cc = 0; cc < 16; cc++)
                    {
                        a.db(0x0F, (byte)(0x90 + cc), 0xC2); // setcc dl
                        a.mov(__byte_ptr[edi], dl);
                        a.lea(edi, __[edi + 1]);
                    }
                    for (int cc = 0; cc < 16; cc++)
                    {
                        // CMOVcc, and a Jcc ending a block right after the producer.
                        a.xor(edx, edx);
                        a.mov(eax, __dword_ptr[esi]); a.mov(ecx, __dword_ptr[esi + 4]);
                        producer(a);
                        a.db(0x0F, (byte)(0x40 + cc), 0xD3); // cmovcc edx, ebx
                        a.mov(__dword_ptr[edi], edx);
                        a.mov(edx, 2);
                        a.mov(eax, __dword_ptr[esi]); a.mov(ecx, __dword_ptr[esi + 4]);
                        producer(a);
                        a.db(0x0F, (byte)(0x80 + cc)); a.dd(5); // jcc +5
                        a.mov(edx, 3);
                        a.mov(__dword_ptr[edi + 4], edx);
                        a.lea(edi, __[edi + 8]);
                    }
                    a.add(esi, 8);
                    a.cmp(esi, Pairs + (uint)(8 * s_edgeValues.Length * s_edgeValues.Length));
                    a.jb(next);
                }
                a.hlt();
            });
            uint at = Pairs;
            foreach (uint x in s_edgeValues)
                foreach (uint y in s_edgeValues)
                {
                    m.Memory.Write32(at, x); m.Memory.Write32(at + 4, y); at += 8;
                }
            m.Cpu.State.Esp = 0x9_0000;
            return m;
        }
        using var reference = Build(Reference);
        using var translated = Build(Translate);
        RunToHalt(reference, null);
        RunToHalt(translated, null);
        AssertSameState(reference, translated, "conditions");
        int length = s_edgeValues.Length * s_edgeValues.Length * producers.Length * 16 * 9;
        AssertSameMemory(reference, translated, Out, length, "conditions");
    }

    [Fact]
    public void LoopStopsExactlyAtTheInstructionBudget()
    {
        foreach (long budget in new long[] { 1, 2, 3, 1001, 100_000 })
        {
            using var m = new TestMachine();
            Translate(m);
            m.Load32(Guest.CodeBase, a =>
            {
                var top = a.CreateLabel();
                a.Label(ref top);
                a.inc(eax);
                a.add(edx, eax);
                a.jmp(top);
            });
            m.Cpu.State.Eax = 0; m.Cpu.State.Edx = 0;
            // Warm up so the block is compiled, then measure from a known point.
            Assert.Equal(StopReason.BudgetExhausted, m.Run(budget));
            Assert.Equal(budget, m.Cpu.InstructionsRetired);
            long incs = (budget + 2) / 3, adds = (budget + 1) / 3;
            Assert.Equal((uint)incs, m.Cpu.State.Eax);
            Assert.Equal((uint)(adds * (adds + 1) / 2), m.Cpu.State.Edx);
            Assert.Equal(Guest.CodeBase + (uint)(budget % 3 == 0 ? 0 : budget % 3 == 1 ? 1 : 3), m.Cpu.State.Eip);
        }
    }

    [Fact]
    public void StopRequestReachesALoopInsideTranslatedCode()
    {
        using var m = new TestMachine();
        Translate(m);
        m.Load32(Guest.CodeBase, a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(eax);
            a.jmp(top);
        });
        using var timer = new Timer(_ => m.Cpu.RequestStop(), null, 200, Timeout.Infinite);
        Assert.Equal(StopReason.StopRequested, m.Cpu.Run(long.MaxValue / 4));
        Assert.True(m.Cpu.BlocksTranslated > 0);
        // EAX is 32 bits: a fast engine on a slow timer may wrap it.
        Assert.Equal((uint)(m.Cpu.InstructionsRetired / 2 + (m.Cpu.InstructionsRetired & 1)), m.Cpu.State.Eax);
    }

    [Fact]
    public void InterpreterEngineTranslatesNothing()
    {
        using var m = new TestMachine();
        m.Cpu.Engine = CpuEngine.Interpreter;
        m.Cpu.TranslationThreshold = 0;
        m.Load32(Guest.CodeBase, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 1000);
            a.Label(ref top);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0, m.Cpu.BlocksTranslated);
        Assert.Equal(500_500u, m.Cpu.State.Eax);
    }

    /// <summary>A loop stores into its own immediate: each store must end the translated pass and retranslate.</summary>
    [Fact]
    public void SelfModifyingLoopAgreesWithGenericExecutor()
    {
        TestMachine Build(Action<TestMachine> engine)
        {
            var m = new TestMachine();
            engine(m);
            // top = CodeBase + 7 (mov ecx, imm32 = 5 bytes; xor eax, eax = 2); Iced encodes add eax, 1 as
            // 05 id, so the immediate's low byte is at top + 1.
            uint patch = Guest.CodeBase + 7 + 1;
            m.Load32(Guest.CodeBase, a =>
            {
                var top = a.CreateLabel();
                a.mov(ecx, 50);
                a.xor(eax, eax);
                a.Label(ref top);
                a.add(eax, 1);
                a.mov(__byte_ptr[patch], cl);
                a.dec(ecx);
                a.jne(top);
                a.hlt();
            });
            Assert.Equal(0x05, m.Memory.Read8(Guest.CodeBase + 7));
            Assert.Equal(0x01, m.Memory.Read8(patch));
            return m;
        }
        using var reference = Build(Reference);
        using var translated = Build(Translate);
        RunToHalt(reference, null);
        RunToHalt(translated, null);
        AssertSameState(reference, translated, "smc");
        Assert.Equal(1u + Enumerable.Range(1, 49).Sum(x => (uint)x + 1), translated.Cpu.State.Eax);
        Assert.True(translated.Cpu.BlocksInvalidated >= 49);
    }

    private const uint PageDir = 0x100000, PageTable = 0x101000, Record = 0x5000;

    /// <summary>
    /// A translated loop walks 16 unmapped pages: each first touch page-faults from inside
    /// compiled code, the handler maps the page and IRET restarts the instruction. Precise faults
    /// mean the same CR2s, the same fault count, and the same state and retired count at the end.
    /// </summary>
    [Fact]
    public void PageFaultsInsideTranslatedLoopsArePrecise()
    {
        TestMachine Build(Action<TestMachine> engine)
        {
            var m = new TestMachine();
            engine(m);
            var g = new G(m);
            g.WriteIdt(14, Descriptors.Gate(G.KCode, 0x20000, 0xE));
            g.Handler(0x20000, a =>
            {
                a.pop(eax);
                a.mov(__dword_ptr[Record], eax);
                a.mov(eax, cr2);
                a.add(__dword_ptr[Record + 4], eax);      // sum of CR2s
                a.inc(__dword_ptr[Record + 8]);
                a.shr(eax, 12);
                a.mov(ebx, eax);
                a.shl(ebx, 12);
                a.or(ebx, 3);
                a.mov(__dword_ptr[eax * 4 + PageTable], ebx);
                a.mov(edx, cr2);
                a.invlpg(__[edx]);
                a.iretd();
            });
            g.Load(a =>
            {
                var fill = a.CreateLabel();
                var top = a.CreateLabel();
                a.mov(edi, PageTable);
                a.mov(eax, 3);
                a.mov(ecx, 1024);
                a.Label(ref fill);
                a.stosd();
                a.add(eax, 0x1000);
                a.loop(fill);
                a.mov(__dword_ptr[PageDir], PageTable | 7);
                // Unmap 0x300000-0x30FFFF.
                a.mov(edi, PageTable + 0x300 * 4);
                a.xor(eax, eax);
                a.mov(ecx, 16);
                a.rep.stosd();
                a.mov(eax, PageDir);
                a.mov(cr3, eax);
                a.mov(eax, cr0);
                a.or(eax, unchecked((int)0x8001_0000));
                a.mov(cr0, eax);
                a.mov(esi, 0x300000);
                a.xor(ebp, ebp);
                a.Label(ref top);
                a.mov(__dword_ptr[esi + 8], esi);
                a.mov(ecx, __dword_ptr[esi + 8]);
                a.add(ebp, ecx);
                a.add(esi, 256);
                a.cmp(esi, 0x310000);
                a.jb(top);
                a.hlt();
            });
            return m;
        }
        using var reference = Build(Reference);
        using var translated = Build(Translate);
        RunToHalt(reference, null);
        RunToHalt(translated, null);
        Assert.Equal(16u, translated.Read32(Record + 8));
        Assert.Equal(reference.Read32(Record + 4), translated.Read32(Record + 4));
        AssertSameState(reference, translated, "page faults");
        Assert.True(translated.Cpu.BlocksTranslated > 0);
    }

    /// <summary>
    /// A supervisor-only page of code, called through a register until it is compiled (and found
    /// by the engine's jump caches); then ring 3 jumps to the same address through a register. The
    /// fetch must fault (#PF, U/S, CR2 = the target) as on the reference: no cache of where an
    /// address led may carry user code into a supervisor block.
    /// </summary>
    [Fact]
    public void UserCodeCannotReachASupervisorBlockThroughAJumpCache()
    {
        const uint Kernel = 0x40000, User = 0x50000;
        TestMachine Build(Action<TestMachine> engine)
        {
            var m = new TestMachine();
            engine(m);
            var g = new G(m);
            g.WriteIdt(14, Descriptors.Gate(G.KCode, 0x20000, 0xE));
            g.Handler(0x20000, a => a.hlt());             // the error code stays on the ring-0 stack
            g.Handler(Kernel, a =>
            {
                a.add(ebp, 3);
                a.ret();
            });
            g.Handler(User, a =>
            {
                a.mov(eax, Kernel);
                a.jmp(eax);                               // ring 3 into the supervisor page
            });
            g.Load(a =>
            {
                var fill = a.CreateLabel();
                var top = a.CreateLabel();
                a.mov(edi, PageTable);
                a.mov(eax, 7);                            // present, writable, user
                a.mov(ecx, 1024);
                a.Label(ref fill);
                a.stosd();
                a.add(eax, 0x1000);
                a.loop(fill);
                a.mov(__dword_ptr[PageTable + (Kernel >> 12) * 4], Kernel | 3); // supervisor only
                a.mov(__dword_ptr[PageDir], PageTable | 7);
                a.mov(eax, PageDir);
                a.mov(cr3, eax);
                a.mov(eax, cr0);
                a.or(eax, unchecked((int)0x8001_0000));
                a.mov(cr0, eax);
                a.mov(ecx, 200);
                a.mov(ebx, Kernel);
                a.Label(ref top);
                a.call(ebx);                              // compiled, and entered through the caches
                a.dec(ecx);
                a.jnz(top);
                a.push(G.UData);                          // IRET to ring 3 at User
                a.push(0x70000);
                a.push(0x202);
                a.push(G.UCode);
                a.push(User);
                a.iretd();
            });
            return m;
        }
        using var reference = Build(Reference);
        using var translated = Build(Translate);
        RunToHalt(reference, null);
        RunToHalt(translated, null);
        Assert.Equal(0x20001u, reference.Cpu.State.Eip);
        Assert.Equal(Kernel, reference.Cpu.State.Cr2);
        Assert.Equal(5u, reference.Read32(reference.Cpu.State.Esp)); // a user fetch of a present supervisor page
        Assert.Equal(0x20001u, translated.Cpu.State.Eip);
        Assert.Equal(Kernel, translated.Cpu.State.Cr2);
        Assert.Equal(5u, translated.Read32(translated.Cpu.State.Esp));
        AssertSameState(reference, translated, "user jump into a supervisor page");
        Assert.True(translated.Cpu.BlocksTranslated > 0);
    }

    [Fact]
    public void SixteenBitCodeIsLeftToTheInterpreter()
    {
        using var m = new TestMachine();
        Translate(m);
        m.LoadReal(0x1000, 0x100, a =>
        {
            var top = a.CreateLabel();
            a.mov(cx, 100);
            a.Label(ref top);
            a.add(ax, cx);
            a.dec(cx);
            a.jne(top);
            a.hlt();
        });
        m.Cpu.State.Eax = 0;
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(5050u, m.Cpu.State.Eax);
        Assert.Equal(0, m.Cpu.BlocksTranslated);
    }
}
