using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using Virt.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Translation;

/// <summary>
/// What only the native backend has: blocks linked to each other, indirect branches through its
/// jump table, ops run by the interpreter's handlers with native code resuming after them, FS/GS
/// limits checked inline, a bounded code cache that empties itself. Each program runs natively and
/// on the reference executor, and the registers, flags, EIP, retired count and memory must agree.
/// </summary>
public class NativeBackendTests
{
    private static TestMachine Run(string engine, Action<Assembler> code, Action<CpuState>? setup = null, int? codeCacheBytes = null,
        Action<TestMachine>? configure = null)
    {
        var m = new TestMachine();
        configure?.Invoke(m);
        if (engine == Engines.Native)
        {
            m.Cpu.Engine = CpuEngine.Native;
            m.Cpu.TranslationThreshold = 0;
            if (codeCacheBytes is { } bytes) m.Cpu.NativeCodeCacheBytes = bytes;
        }
        else
        {
            m.Cpu.Engine = CpuEngine.Interpreter;
            m.Cpu.GenericOnly = true;
        }
        m.Load32(Guest.CodeBase, a => { code(a); a.hlt(); });
        m.Cpu.State.Esp = 0x9_0000;
        setup?.Invoke(m.Cpu.State);
        Assert.Equal(StopReason.Halted, m.Run(50_000_000));
        return m;
    }

    private static (TestMachine Native, TestMachine Reference) Compare(Action<Assembler> code, Action<CpuState>? setup = null, int? codeCacheBytes = null,
        Action<TestMachine>? configure = null)
    {
        var native = Run(Engines.Native, code, setup, codeCacheBytes, configure);
        var reference = Run(Engines.Interpreter, code, setup, configure: configure);
        SameState.Registers(reference, native);
        Assert.Equal(reference.Cpu.State.Eflags, native.Cpu.State.Eflags);
        Assert.Equal(reference.Cpu.State.Eip, native.Cpu.State.Eip);
        Assert.Equal(reference.Cpu.InstructionsRetired, native.Cpu.InstructionsRetired);
        var a = new byte[0x1000]; var b = new byte[0x1000];
        reference.Memory.Read(Guest.Data, a); native.Memory.Read(Guest.Data, b);
        Assert.True(a.AsSpan().SequenceEqual(b), "data differs");
        return (native, reference);
    }

    /// <summary>
    /// A loop of several blocks in one page (forward and backward branches), calling a function
    /// (CALL and RET through the jump table) and one on another page: after the first passes the
    /// blocks are linked, and the whole run takes few returns to the dispatcher.
    /// </summary>
    [Fact]
    public void LinkedBlocksAndIndirectBranchesAgreeWithTheReference()
    {
        var (native, reference) = Compare(a =>
        {
            Label top = a.CreateLabel(), odd = a.CreateLabel(), join = a.CreateLabel(), f = a.CreateLabel(), far = a.CreateLabel(), done = a.CreateLabel();
            a.mov(ecx, 20_000);
            a.mov(esi, Guest.Data);
            a.Label(ref top);
            a.test(ecx, 1);
            a.jnz(odd);
            a.add(eax, ecx);
            a.call(f);
            a.jmp(join);
            a.Label(ref odd);
            a.sub(ebx, ecx);
            a.call(far);
            a.Label(ref join);
            a.mov(__dword_ptr[esi + 0x40], eax);
            a.dec(ecx);
            a.jnz(top);
            a.jmp(done);
            a.Label(ref f);
            a.rol(eax, 3);
            a.xor(eax, ecx);
            a.ret();
            a.db(new byte[0x1000]); // the next function sits on another page
            a.Label(ref far);
            a.imul(edx, ecx, 7);
            a.add(ebx, edx);
            a.ret();
            a.Label(ref done);
        });
        var stats = native.Cpu.EngineStats;
        Assert.True(stats.NativeLinks > 0, "no block was linked");
        Assert.True(stats.NativeCalls < reference.Cpu.InstructionsRetired / 50,
            $"{stats.NativeCalls:N0} native calls for {reference.Cpu.InstructionsRetired:N0} instructions: blocks are not linked or the jump table misses");
    }

    /// <summary>CPUID, RDTSC-free system ops and a non-REP string op inside a loop: run by the handlers, native code resumes after each.</summary>
    [Fact]
    public void OpsRunByHandlersResumeNativeCode()
    {
        var (native, _) = Compare(a =>
        {
            Label top = a.CreateLabel();
            a.mov(edi, Guest.Data);
            a.mov(ebp, 500);
            a.Label(ref top);
            a.mov(eax, 1);
            a.cpuid();                    // a handler op in the middle of the block
            a.add(esi, ebx);
            a.mov(al, (byte)'x');
            a.stosb();                    // another
            a.lahf();
            a.add(edx, eax);
            a.dec(ebp);
            a.jnz(top);
        });
        var stats = native.Cpu.EngineStats;
        Assert.True(stats.NativeHandlerCalls >= 1000, $"handler calls {stats.NativeHandlerCalls}");
        Assert.True(stats.NativeCalls < 200, $"{stats.NativeCalls} native calls: native code did not resume after the handlers");
    }

    /// <summary>
    /// GS with a 24-byte limit, as Linux's stack-protector segment: a read inside it runs natively,
    /// the read past it raises #GP at that instruction (the vector-13 stub halts, the frame holds its EIP).
    /// </summary>
    [Fact]
    public void AnAccessBeyondASmallGsLimitFaultsAtTheInstruction()
    {
        static void Code(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 100);
            a.Label(ref top);
            a.mov(eax, __dword_ptr.gs[0x14]);
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(top);
            a.mov(edx, __dword_ptr.gs[0x16]);   // bytes 0x16-0x19: past the limit 0x17
            a.mov(esi, 0x1234);
        }
        foreach (string engine in new[] { Engines.Native, Engines.Interpreter })
        {
            using var m = Run(engine, Code, s =>
            {
                s.Gdtr = new DescriptorTableRegister { Base = 0x800, Limit = 15 };
                s.Idtr = new DescriptorTableRegister { Base = 0x6000, Limit = 0x7FF };
                s.Gs = new SegmentRegister { Selector = 0x18, Base = Guest.Data, Limit = 0x17, Attributes = 0x4093 };
            }, configure: m =>
            {
                // #GP goes to a HLT at 0x5000 through an IDT at 0x6000.
                m.Memory.Load(0x5000, [0xF4]);
                m.Memory.Load(0x800, [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0]);
                m.Memory.Load(0x6000 + 13 * 8, [0x00, 0x50, 0x08, 0, 0, 0x8E, 0, 0]);
                m.Memory.Write32(Guest.Data + 0x14, 7);
            });
            Assert.Equal(0x5001u, m.Cpu.State.Eip);
            Assert.Equal(700u, m.Cpu.State.Ebx);
            uint faultEip = m.Read32(m.Cpu.State.Esp + 4); // error code, then EIP
            Assert.Equal(0u, m.Read32(m.Cpu.State.Esp));
            Assert.Equal(0u, m.Cpu.State.Esi); // the instruction after the fault never ran
            // MOV ECX (5 bytes), then the loop: GS MOV EAX, moffs (6), ADD (2), DEC (1), JNZ short (2).
            Assert.True(faultEip == Guest.CodeBase + 16, $"{engine}: #GP at {faultEip:X8}");
            if (engine == Engines.Native) Assert.True(m.Cpu.EngineStats.NativeInstructions > 300, "the GS reads did not run natively");
        }
    }

    /// <summary>Blocks are translated on and on into a 64 KiB code cache: it fills, is emptied, and the guest runs on unchanged.</summary>
    [Fact]
    public void AFullCodeCacheIsFlushedAndTheGuestRunsOn()
    {
        var (native, _) = Compare(a =>
        {
            // 3,000 distinct blocks: each a few ALU ops and a store, then a jump to the next.
            a.mov(esi, Guest.Data);
            for (int i = 0; i < 3000; i++)
            {
                Label next = a.CreateLabel();
                a.add(eax, i);
                a.xor(ebx, eax);
                a.mov(__dword_ptr[esi + (i % 1000) * 4], ebx);
                a.jmp(next);
                a.Label(ref next);
            }
        }, codeCacheBytes: 64 << 10);
        Assert.True(native.Cpu.EngineStats.CodeCacheFlushes > 0, "the cache never filled");
    }

    /// <summary>
    /// Two linked blocks on one page; the first rewrites the second's immediate on each pass. The
    /// write drops both blocks (and their link), so every pass sees the new code.
    /// </summary>
    [Fact]
    public void AWriteToLinkedCodeIsSeenAtOnce()
    {
        Compare(a =>
        {
            Label top = a.CreateLabel(), second = a.CreateLabel(), here = a.CreateLabel();
            a.mov(ecx, 300);
            a.Label(ref top);
            a.mov(edx, ecx);
            a.jmp(second);
            a.Label(ref second);
            a.add(ebx, edx);
            a.mov(eax, 0x1111_1111);      // B8 imm32: the immediate is rewritten below
            a.add(esi, eax);              // 2 bytes
            a.call(here);                 // 5 bytes; pushes the address of the POP
            a.Label(ref here);
            a.pop(edi);
            a.mov(__dword_ptr[edi - 11], ecx); // the MOV's immediate: 4 + 2 + 5 bytes back
            a.dec(ecx);
            a.jnz(top);
        });
    }

    /// <summary>
    /// CLI, STI, PUSHFD and POPFD run inline (no handler call): the images PUSHFD stores, IF, DF
    /// and IOPL set by POPFD (and seen by a string op the interpreter runs after it) agree with the reference.
    /// </summary>
    [Fact]
    public void InlineFlagOpsAgreeWithTheReference()
    {
        var (native, _) = Compare(a =>
        {
            Label top = a.CreateLabel();
            a.mov(edi, Guest.Data);
            a.mov(ebp, 200);
            a.Label(ref top);
            a.pushfd();
            a.cli();
            a.add(eax, ebp);                      // arithmetic flags into the images below
            a.pushfd();
            a.pop(edx);
            a.mov(__dword_ptr[edi], edx);
            a.popfd();                            // IF back as it was
            a.pushfd();
            a.pop(ebx);
            a.mov(__dword_ptr[edi + 4], ebx);
            a.push(0x3ED7);                       // IOPL 3, DF, every arithmetic flag
            a.popfd();
            a.stosb();                            // DF = 1: EDI goes down
            a.pushfd();
            a.pop(esi);
            a.mov(__dword_ptr[edi + 12], esi);
            a.push(0x202);
            a.popfd();                            // DF clear, IF set
            a.sti();
            a.add(edi, 16);
            a.dec(ebp);
            a.jnz(top);
        }, s => s.Eflags = 0x2);
        Assert.True(native.Cpu.EngineStats.NativeHandlerCalls <= 2 * 200 + 10,
            $"{native.Cpu.EngineStats.NativeHandlerCalls} handler calls: the flag ops were not inlined");
    }

    /// <summary>
    /// The i386 kernel's string functions: a LODSB/STOSB copy loop, REPNE SCASB (strlen), REPE
    /// CMPSB, REP MOVSD across a page boundary, REP STOSB with ECX = 0 (flags kept), a FS-relative
    /// LODSD, and STD/CLD (DF set: the handler runs them). Native code must agree with the reference.
    /// </summary>
    [Fact]
    public void StringOpsAgreeWithTheReference()
    {
        var (native, _) = Compare(a =>
        {
            Label copy = a.CreateLabel(), outer = a.CreateLabel();
            a.mov(ebp, 30);
            a.Label(ref outer);
            // A NUL-terminated string at Data: "abc...".
            a.mov(edi, Guest.Data);
            a.mov(eax, 0x6463_6261);
            a.mov(ecx, 8);
            a.rep.stosd();
            a.mov(__byte_ptr[Guest.Data + 29], 0);
            // strcpy to Data + 0x100.
            a.mov(esi, Guest.Data);
            a.mov(edi, Guest.Data + 0x100);
            a.Label(ref copy);
            a.lodsb();
            a.stosb();
            a.test(al, al);
            a.jnz(copy);
            // strlen by REPNE SCASB.
            a.mov(edi, Guest.Data + 0x100);
            a.xor(eax, eax);
            a.mov(ecx, -1);
            a.repne.scasb();
            a.not(ecx);
            a.mov(__dword_ptr[Guest.Data + 0x200], ecx);
            // REPE CMPSB of the two strings, then of different ones.
            a.mov(esi, Guest.Data);
            a.mov(edi, Guest.Data + 0x100);
            a.mov(ecx, 40);
            a.repe.cmpsb();
            a.pushfd();
            a.pop(__dword_ptr[Guest.Data + 0x204]);
            a.mov(__dword_ptr[Guest.Data + 0x208], ecx);
            // REP MOVSD across the page boundary at Data + 0x1000.
            a.mov(esi, Guest.Data);
            a.mov(edi, Guest.Data + 0xFF0);
            a.mov(ecx, 10);
            a.rep.movsd();
            // REP STOSB with ECX = 0: nothing stored, flags kept.
            a.cmp(ebp, 17);
            a.xor(ecx, ecx);
            a.rep.stosb();
            a.setl(__byte_ptr[Guest.Data + 0x20C]);
            // LODSD through FS; backwards with DF set.
            a.mov(esi, 0x10);
            a.db(0x64, 0xAD);                     // FS: LODSD
            a.add(__dword_ptr[Guest.Data + 0x210], eax);
            a.std();
            a.mov(esi, Guest.Data + 0x20);
            a.lodsb();
            a.cld();
            a.mov(__dword_ptr[Guest.Data + 0x214], esi);
            a.dec(ebp);
            a.jnz(outer);
        }, s => s.Fs = new SegmentRegister { Selector = 0x10, Base = Guest.Data, Limit = 0xFFFF_FFFF, Attributes = 0xC093 });
        // STD, the LODSB with DF set, CLD and POP m32 go to the handlers: 4 a pass.
        Assert.True(native.Cpu.EngineStats.NativeHandlerCalls <= 30 * 4 + 1, $"{native.Cpu.EngineStats.NativeHandlerCalls} handler calls: string ops went to the interpreter");
    }

    /// <summary>
    /// On an instruction clock RDTSC runs inline: a delay loop reading the TSC (Linux's delay_tsc)
    /// sees exactly the values the interpreter sees, and takes no handler call.
    /// </summary>
    [Fact]
    public void RdtscOnAnInstructionClockIsInlineAndExact()
    {
        var (native, _) = Compare(a =>
        {
            Label wait = a.CreateLabel(), outer = a.CreateLabel();
            a.mov(edi, Guest.Data);
            a.mov(ebp, 50);
            a.Label(ref outer);
            a.rdtsc();
            a.mov(ebx, eax);
            a.add(ebx, 5000);                 // 500 instructions of guest time
            a.Label(ref wait);
            a.pause();
            a.rdtsc();
            a.cmp(eax, ebx);
            a.jb(wait);
            a.mov(__dword_ptr[edi], eax);     // the values read are compared with the reference's
            a.add(edi, 4);
            a.dec(ebp);
            a.jnz(outer);
        }, configure: m =>
        {
            m.Cpu.TscClock = new Virt.Cpu.Tests.Linux.InstructionClock(() => m.Cpu.InstructionsRetired, 10, DateTimeOffset.UnixEpoch);
            m.Cpu.TscTicksPerInstruction = 10;
        });
        Assert.Equal(1, native.Cpu.EngineStats.NativeHandlerCalls); // the closing HLT
    }

    /// <summary>
    /// Another process writes guest RAM that holds linked native code (a device model's DMA, which
    /// the monitor reports through PhysicalMemory.NotifyWrite from the RAM write log): the blocks on
    /// that page are dropped with their links, and the loop runs the new code at the next slice.
    /// </summary>
    [Fact]
    public void AnExternalWriteToNativeCodeTakesEffect()
    {
        using var m = new TestMachine();
        m.Cpu.Engine = CpuEngine.Native;
        m.Cpu.TranslationThreshold = 0;
        uint immediate = 0;
        m.Load32(Guest.CodeBase, a =>
        {
            Label top = a.CreateLabel(), second = a.CreateLabel();
            a.Label(ref top);
            a.mov(edx, 1);                        // BA imm32 at CodeBase + 1: rewritten from outside
            a.jmp(second);
            a.Label(ref second);
            a.add(eax, edx);
            a.jmp(top);
        });
        immediate = Guest.CodeBase + 1;
        for (int i = 0; i < 20; i++) m.Run(1000);
        uint before = m.Cpu.State.Eax;
        Assert.True(m.Cpu.EngineStats.NativeLinks > 0, "the two blocks were not linked");
        m.Memory.Write32(immediate, 1000);          // the bytes change behind the CPU's back...
        m.Memory.NotifyWrite(immediate);            // ... and the monitor says so, as for a device model's write
        m.Run(1000);
        m.Run(1000);
        uint delta = m.Cpu.State.Eax - before;
        Assert.True(delta > 2000 * 100, $"EAX grew by {delta} over 2,000 instructions: the old code still runs");
    }

    /// <summary>
    /// PUSH m32, POP m32 and LOCK CMPXCHG8B run natively (memory operands on both sides of the
    /// stack); accesses crossing a page go to the interpreter; all agree with the reference.
    /// </summary>
    [Fact]
    public void PushPopMemoryAndCmpxchg8bAgreeWithTheReference()
    {
        var (native, _) = Compare(a =>
        {
            Label top = a.CreateLabel();
            a.mov(esi, Guest.Data);
            a.mov(ebp, 100);
            a.Label(ref top);
            a.push(__dword_ptr[esi + ebp * 4]);
            a.add(__dword_ptr[esi + 0x400], ebp);
            a.pop(__dword_ptr[esi + ebp * 4 + 0x800]);
            a.mov(eax, __dword_ptr[esi + 0xC00]);
            a.mov(edx, __dword_ptr[esi + 0xC04]);
            a.lea(ebx, __[eax + 1]);
            a.lea(ecx, __[edx + ebp]);
            a.@lock.cmpxchg8b(__qword_ptr[esi + 0xC00]); // succeeds: EDX:EAX was just read
            a.cmpxchg8b(__qword_ptr[esi + 0xC00]);       // fails: loads the new value into EDX:EAX
            a.setz(__byte_ptr[esi + ebp + 0xC10]);
            a.add(edx, __dword_ptr[esi + 0xFFE]);       // a read and a write crossing into the next page
            a.mov(__dword_ptr[esi + 0x1FFD], edx);
            a.dec(ebp);
            a.jnz(top);
        });
        Assert.True(native.Cpu.EngineStats.NativeHandlerCalls <= 2, $"{native.Cpu.EngineStats.NativeHandlerCalls} handler calls");
        Assert.True(native.Cpu.EngineStats.NativeInterpretExits >= 200, "the page-crossing accesses did not leave native code");
    }
    /// <summary>
    /// DIV runs natively in its 8, 16 and 32-bit, register and memory forms, then a DIV whose
    /// quotient overflows raises #DE at that instruction: the same registers as the reference, the
    /// same EIP, and the same EFLAGS image on the stack, although the flags were dead there (a
    /// CMP's, overwritten by nothing before the fault).
    /// </summary>
    [Fact]
    public void DivRunsNativelyAndOverflowRaisesDivideErrorExactly()
    {
        static void Code(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 50);
            a.Label(ref top);
            a.mov(eax, ecx);
            a.imul(eax, eax, 1_000_003);
            a.xor(edx, edx);
            a.lea(ebx, __[ecx + 7]);
            a.div(ebx);                                   // 32-bit, register
            a.add(esi, eax);
            a.add(edi, edx);
            a.mov(__dword_ptr[Guest.Data], ebx);
            a.mov(eax, esi);
            a.xor(edx, edx);
            a.div(__dword_ptr[Guest.Data]);               // 32-bit, memory
            a.add(esi, edx);
            a.mov(eax, esi);
            a.mov(edx, 3);
            a.mov(ebx, 0x1234);
            a.div(bx);                                    // 16-bit: DX 3 < 0x1234
            a.add(edi, eax);
            a.mov(eax, edi);
            a.and(eax, 0x7FFF);
            a.mov(__byte_ptr[Guest.Data + 4], 200);
            a.div(__byte_ptr[Guest.Data + 4]);            // 8-bit, memory: AH <= 0x7F < 200
            a.movzx(eax, ax);
            a.add(esi, eax);
            a.mov(bl, 7);
            a.mov(eax, ecx);
            a.div(bl);                                    // 8-bit, register
            a.movzx(eax, ax);
            a.add(edi, eax);
            a.dec(ecx);
            a.jnz(top);
            a.cmp(esi, edi);                              // flags the #DE must push as they are
            a.mov(edx, 5);
            a.mov(eax, 1);
            a.mov(ebx, 5);
            a.div(ebx);                                   // EDX >= EBX: the quotient overflows
            a.mov(ebp, 0x1234);                           // never runs
        }
        AssertSameDivideError(Code);
    }
    /// <summary>
    /// Native code emitted on the compile thread while the VCPU interprets: the running loop places
    /// it between blocks whenever it is ready (a loaded machine may take a while: the guest loops until
    /// it has, so the test does not depend on timing), runs it, and the state stays exact.
    /// </summary>
    [Fact]
    public void BackgroundCompiledCodeIsPlacedByARunningLoop()
    {
        using var m = new TestMachine();
        m.Cpu.Engine = CpuEngine.Native;
        m.Cpu.TranslationThreshold = 0;
        m.Cpu.NativeCompileInBackground = true;
        BackgroundCompile.RunLoopUntilCompiled(m);
        Assert.True(m.Cpu.EngineStats.NativeInstructions > 1_000_000, "the placed code did not run");
    }
    /// <summary>
    /// IDIV r/m32 runs natively with mixed signs, register and memory divisors; then each way it can
    /// raise #DE: a zero divisor, a quotient that does not fit 32 signed bits (EAX and EDX must come
    /// back as they were), and INT_MIN / -1. Registers, EIP and the pushed EFLAGS as on the reference.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void IdivRunsNativelyAndEachOverflowRaisesDivideErrorExactly(int fault)
    {
        void Code(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 120);
            a.Label(ref top);
            a.mov(eax, ecx);
            a.imul(eax, eax, -1_000_003);                 // negative dividends
            a.cdq();
            a.lea(ebx, __[ecx - 60]);
            a.or(ebx, 1);                                 // odd, never zero, both signs
            a.idiv(ebx);                                  // register
            a.add(esi, eax);
            a.add(edi, edx);
            a.mov(__dword_ptr[Guest.Data], ebx);
            a.mov(eax, esi);
            a.cdq();
            a.idiv(__dword_ptr[Guest.Data]);              // memory
            a.xor(esi, edx);
            a.add(edi, eax);
            a.dec(ecx);
            a.jnz(top);
            a.cmp(esi, edi);                              // flags the #DE must push as they are
            switch (fault)
            {
                case 0:
                    a.xor(ebx, ebx);
                    a.idiv(ebx);                          // by zero
                    break;
                case 1:
                    a.mov(edx, 1);
                    a.xor(eax, eax);
                    a.mov(ebx, 1);
                    a.idiv(ebx);                          // 2^32: does not fit
                    break;
                default:
                    a.mov(eax, int.MinValue);
                    a.cdq();
                    a.mov(ebx, -1);
                    a.idiv(ebx);                          // INT_MIN / -1
                    break;
            }
            a.mov(ebp, 0x1234);                           // never runs
        }
        AssertSameDivideError(Code);
    }
    /// <summary>
    /// IDIV r/m8 and r/m16 run natively too: mixed signs, register and memory divisors, the upper
    /// halves of EAX and EDX (and EDX whole for r/m8) kept; none of them goes to the handler. Then
    /// each way they raise #DE: a zero divisor and a quotient that does not fit the operand size
    /// (-128 / -1 included), with EAX and EDX as they were.
    /// </summary>
    [Theory]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 0)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    public void Idiv8And16RunNativelyKeepingTheUpperHalvesAndEachOverflowRaisesDivideErrorExactly(int size, int fault)
    {
        void Code(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(ecx, 100);
            a.mov(edx, 0x5A5A_0000);                      // upper halves the divisions must keep
            a.Label(ref top);
            a.mov(eax, ecx);
            a.imul(eax, eax, -301);                       // both signs
            a.or(eax, 0x7E00_0000);
            a.lea(ebx, __[ecx - 50]);
            a.or(ebx, 1);                                 // odd, never zero, both signs
            if (size == 1)
            {
                a.movsx(eax, ax);
                a.sar(ax, 9);                             // |AX| <= 64: every quotient fits a byte
                a.idiv(bl);                               // register
                a.add(esi, eax);
                a.mov(__byte_ptr[Guest.Data], bl);
                a.mov(ax, cx);
                a.idiv(__byte_ptr[Guest.Data]);           // memory
            }
            else
            {
                a.mov(dx, ax);
                a.sar(dx, 15);                            // DX:AX = AX sign-extended, EDX's upper half kept
                a.idiv(bx);                               // register
                a.add(esi, eax);
                a.mov(__word_ptr[Guest.Data], bx);
                a.mov(ax, cx);
                a.mov(dx, 0);
                a.idiv(__word_ptr[Guest.Data]);           // memory
            }
            a.xor(esi, edx);
            a.add(edi, eax);
            a.dec(ecx);
            a.jnz(top);
            a.cmp(esi, edi);                              // flags the #DE must push as they are
            switch (fault)
            {
                case 0:
                    a.xor(ebx, ebx);
                    if (size == 1) a.idiv(bl); else a.idiv(bx); // by zero
                    break;
                case 1:
                    a.mov(eax, 0x1234_4000);
                    a.mov(ebx, 1);
                    if (size == 1) a.idiv(bl); else { a.mov(edx, 0x0000_0001); a.idiv(bx); } // does not fit
                    break;
                default:
                    a.mov(ebx, -1);
                    if (size == 1) { a.mov(eax, 0x0000_FF80); a.idiv(bl); }             // -128 / -1
                    else { a.mov(eax, 0x0000_8000); a.mov(edx, 0x0000_FFFF); a.idiv(bx); } // -32768 / -1
                    break;
            }
            a.mov(ebp, 0x1234);                           // never runs
        }
        AssertSameDivideError(Code);
        using TestMachine native = Guest.Flat(Code, engine: Engines.Native);
        Assert.DoesNotContain(native.Cpu.EngineStats.NativeStops, kv => kv.Key == "idiv" && kv.Value > 1);
    }

    /// <summary>
    /// Runs <paramref name="code"/> natively and on the reference, each ending in a #DE that the
    /// vector-0 stub halts on: the same registers (EBP never set by the instruction after the
    /// fault), the same EIP, CS and EFLAGS pushed, and the divisions before it run natively.
    /// </summary>
    private static void AssertSameDivideError(Action<Assembler> code)
    {
        using TestMachine native = Guest.Flat(code, engine: Engines.Native), reference = Guest.Flat(code, engine: Engines.Interpreter);
        SameState.Registers(reference, native);
        Assert.Equal(0x2001u, native.Cpu.State.Eip);  // the vector-0 stub's HLT
        uint esp = native.Cpu.State.Esp;
        for (uint k = 0; k < 12; k += 4) Assert.Equal(reference.Read32(esp + k), native.Read32(esp + k)); // EIP, CS, EFLAGS
        Assert.Equal(0u, native.Cpu.State.Ebp);
        Assert.True(native.Cpu.EngineStats.NativeInstructions > 1000, "the divisions did not run natively");
    }
}
