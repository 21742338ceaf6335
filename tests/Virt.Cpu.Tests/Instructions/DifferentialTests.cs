using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// The compact fast handlers against the generic executor: the same random straight-line
/// instruction stream runs on two CPUs, one decoding to compact ops as usual and one with
/// <c>GenericOnly</c> (every instruction through Iced's <c>Instruction</c>). The two paths have
/// separate operand decoding, effective-address code and register indexing, so any disagreement
/// in registers, flags or memory is a bug in one of them.
/// </summary>
public class DifferentialTests
{
    // EBX, ESI, EDI and ESP are never written: they hold the data pointer and a small index.
    private static readonly AssemblerRegister32[] s_dst32 = [eax, ecx, edx, ebp];
    private static readonly AssemblerRegister32[] s_src32 = [eax, ecx, edx, ebx, esi, edi, ebp];
    private static readonly AssemblerRegister8[] s_dst8 = [al, cl, dl, ah, ch, dh];
    private static readonly AssemblerRegister8[] s_src8 = [al, cl, dl, bl, ah, ch, dh, bh];

    /// <summary>
    /// Emits n random instructions. ESI (32-bit) or BX (16-bit) stays a pointer to a 512-byte data
    /// window and EDI / SI a small index, so memory operands are [esi+disp] / [esi+edi*scale+disp]
    /// or [bx+disp] / [bx+si+disp].
    /// </summary>
    internal static void Emit(Assembler a, Random rng, int n, bool code16)
    {
        AssemblerMemoryOperand Mem(int size)
        {
            int disp = rng.Next(0, 64) * 4;
            var baseMem = code16
                ? (rng.Next(2) == 0 ? __[bx + disp] : __[bx + si + (disp & 0x3F)])
                : (rng.Next(2) == 0 ? __[esi + disp] : __[esi + edi * (1 << rng.Next(4)) + (disp & 0x7F)]);
            return size switch { 1 => __byte_ptr[baseMem], 2 => __word_ptr[baseMem], _ => __dword_ptr[baseMem] };
        }
        AssemblerRegister32 D() => s_dst32[rng.Next(s_dst32.Length)];
        AssemblerRegister32 S() => s_src32[rng.Next(s_src32.Length)];
        AssemblerRegister8 D8() => s_dst8[rng.Next(s_dst8.Length)];
        AssemblerRegister8 S8() => s_src8[rng.Next(s_src8.Length)];
        int Imm() => rng.Next(4) switch { 0 => rng.Next(-128, 128), 1 => int.MinValue, 2 => -1, _ => rng.Next() };

        for (int i = 0; i < n; i++)
        {
            int alu = rng.Next(9);
            void Alu32(AssemblerRegister32 r, AssemblerRegister32 s)
            {
                switch (alu) { case 0: a.add(r, s); break; case 1: a.or(r, s); break; case 2: a.adc(r, s); break; case 3: a.sbb(r, s); break; case 4: a.and(r, s); break; case 5: a.sub(r, s); break; case 6: a.xor(r, s); break; case 7: a.cmp(r, s); break; default: a.test(r, s); break; }
            }
            switch (rng.Next(26))
            {
                case 24:
                    {
                        // Flag-free 8/16-bit moves and sign extensions (generic in the compact form, inline when translated).
                        AssemblerRegister16[] d16 = [ax, cx, dx, bp];
                        AssemblerRegister16[] s16 = [ax, cx, dx, bx, si, di, bp];
                        switch (rng.Next(12))
                        {
                            case 0: a.mov(D8(), S8()); break;
                            case 1: a.mov(D8(), (byte)rng.Next(256)); break;
                            case 2: a.mov(d16[rng.Next(4)], Mem(2)); break;
                            case 3: a.mov(Mem(2), s16[rng.Next(7)]); break;
                            case 4: a.mov(Mem(2), (ushort)rng.Next(65536)); break;
                            case 5: a.mov(Mem(1), (byte)rng.Next(256)); break;
                            case 6: a.movsx(D(), S8()); break;
                            case 7: a.movsx(D(), s16[rng.Next(7)]); break;
                            case 8: a.movsx(D(), Mem(1)); break;
                            case 9: a.movsx(D(), Mem(2)); break;
                            case 10: a.movzx(D(), s16[rng.Next(7)]); break;
                            default: if (rng.Next(2) == 0) a.mov(d16[rng.Next(4)], s16[rng.Next(7)]); else a.mov(d16[rng.Next(4)], (ushort)rng.Next(65536)); break;
                        }
                        break;
                    }
                case 25:
                    {
                        var r = D(); var s = S();
                        switch (rng.Next(7))
                        {
                            case 0: a.adc(r, s); break;
                            case 1: a.sbb(r, rng.Next()); break;
                            case 2: a.adc(D8(), S8()); break;
                            case 3: a.imul(r, s); break;
                            case 4: a.imul(r, Mem(4)); break;
                            case 5: a.imul(r, s, Imm()); break;
                            default: a.imul(r, Mem(4), rng.Next(-128, 128)); break;
                        }
                        break;
                    }
                case 0: a.mov(D(), S()); break;
                case 1: a.mov(D(), Imm()); break;
                case 2: a.mov(D(), Mem(4)); break;
                case 3: a.mov(Mem(4), S()); break;
                case 4: a.mov(Mem(4), Imm()); break;
                case 5: a.mov(D8(), Mem(1)); break;
                case 6: a.mov(Mem(1), S8()); break;
                case 7: a.movzx(D(), Mem(1)); break;
                case 8: a.movzx(D(), S8()); break;
                case 9: a.movzx(D(), Mem(2)); break;
                case 10: Alu32(D(), S()); break;
                case 11:
                    {
                        var r = D(); int imm = Imm();
                        switch (alu) { case 0: a.add(r, imm); break; case 1: a.or(r, imm); break; case 2: a.adc(r, imm); break; case 3: a.sbb(r, imm); break; case 4: a.and(r, imm); break; case 5: a.sub(r, imm); break; case 6: a.xor(r, imm); break; case 7: a.cmp(r, imm); break; default: a.test(r, imm); break; }
                        break;
                    }
                case 12:
                    {
                        var r = D(); var m = Mem(4);
                        switch (alu) { case 0: a.add(r, m); break; case 1: a.or(r, m); break; case 2: a.adc(r, m); break; case 3: a.sbb(r, m); break; case 4: a.and(r, m); break; case 5: a.sub(r, m); break; case 6: a.xor(r, m); break; case 7: a.cmp(r, m); break; default: a.test(m, r); break; }
                        break;
                    }
                case 13:
                    {
                        var m = Mem(4); var s = S();
                        switch (alu) { case 0: a.add(m, s); break; case 1: a.or(m, s); break; case 2: a.adc(m, s); break; case 3: a.sbb(m, s); break; case 4: a.and(m, s); break; case 5: a.sub(m, s); break; case 6: a.xor(m, s); break; case 7: a.cmp(m, s); break; default: a.test(m, s); break; }
                        break;
                    }
                case 14:
                    {
                        var m = Mem(4); int imm = Imm();
                        switch (alu) { case 0: a.add(m, imm); break; case 1: a.or(m, imm); break; case 2: a.adc(m, imm); break; case 3: a.sbb(m, imm); break; case 4: a.and(m, imm); break; case 5: a.sub(m, imm); break; case 6: a.xor(m, imm); break; case 7: a.cmp(m, imm); break; default: a.test(m, imm); break; }
                        break;
                    }
                case 15:
                    {
                        var r = D8(); var s = S8();
                        switch (alu) { case 0: a.add(r, s); break; case 1: a.or(r, s); break; case 2: a.adc(r, s); break; case 3: a.sbb(r, s); break; case 4: a.and(r, s); break; case 5: a.sub(r, s); break; case 6: a.xor(r, s); break; case 7: a.cmp(r, s); break; default: a.test(r, s); break; }
                        break;
                    }
                case 16:
                    {
                        var m = Mem(1); int imm = rng.Next(256);
                        switch (alu) { case 0: a.add(m, imm); break; case 1: a.or(m, imm); break; case 2: a.adc(m, imm); break; case 3: a.sbb(m, imm); break; case 4: a.and(m, imm); break; case 5: a.sub(m, imm); break; case 6: a.xor(m, imm); break; case 7: a.cmp(m, imm); break; default: a.test(m, imm); break; }
                        break;
                    }
                case 17:
                    {
                        var r = D8(); var m = Mem(1);
                        switch (alu) { case 0: a.add(r, m); break; case 1: a.or(r, m); break; case 2: a.adc(r, m); break; case 3: a.sbb(r, m); break; case 4: a.and(r, m); break; case 5: a.sub(r, m); break; case 6: a.xor(r, m); break; case 7: a.cmp(r, m); break; default: a.test(m, r); break; }
                        break;
                    }
                case 18: if (rng.Next(2) == 0) a.inc(D()); else a.dec(D()); break;
                case 19: { var r = D(); a.push(S()); a.pop(r); if (!code16 && rng.Next(2) == 0) { a.push(Imm()); a.pop(D()); } break; }
                case 20:
                    if (code16) a.lea(D(), __[bx + si + rng.Next(-100, 100)]);
                    else a.lea(D(), __[esi + edi * (1 << rng.Next(4)) + rng.Next(-1000, 1000)]);
                    break;
                case 21:
                    {
                        int k = rng.Next(6); var r = D(); int c = rng.Next(40);
                        if (k == 0) a.shl(r, (byte)c);
                        else if (k == 1) a.shr(r, (byte)c);
                        else if (k == 2) a.sar(r, (byte)c);
                        else if (k == 3) a.shl(r, cl); else if (k == 4) a.shr(r, cl); else a.sar(r, cl);
                        break;
                    }
                case 22:
                    {
                        // SETcc / CMOVcc on a random condition, reading flags left by the previous instruction.
                        int cc = rng.Next(16);
                        byte[] set = [0x0F, (byte)(0x90 + cc), (byte)(0xC0 | (rng.Next(3) switch { 0 => 0, 1 => 1, _ => 4 }))];
                        byte[] cmov = [0x0F, (byte)(0x40 + cc), (byte)(0xC0 | (1 << 3) | 2)]; // cmovcc ecx, edx
                        if (code16) a.db(0x66);
                        a.db(rng.Next(2) == 0 ? set : cmov);
                        break;
                    }
                default: a.xchg(D(), D()); break;
            }
        }
    }

    private static TestMachine RunStream(int seed, bool code16, bool genericOnly)
    {
        var rng = new Random(seed);
        var init = new uint[8];
        for (int i = 0; i < 8; i++) init[i] = (uint)rng.Next() ^ ((uint)rng.Next() << 16);
        var data = new byte[512];
        rng.NextBytes(data);
        var m = new TestMachine();
        m.Cpu.GenericOnly = genericOnly;
        var codeRng = new Random(seed * 7919 + 1);
        if (code16)
        {
            m.LoadReal(0x1000, 0x100, a => { Emit(a, codeRng, 300, true); a.hlt(); });
            m.Cpu.State.Ds = State.SegmentRegister.RealMode(0x3000);
            m.Memory.Load(0x3_0000 + 0x1000, data);
            for (int i = 0; i < 8; i++) m.Cpu.State[i] = init[i];
            m.Cpu.State.Ebx = 0x1000; m.Cpu.State.Esi = (uint)rng.Next(0, 64); m.Cpu.State.Edi &= 0xFFFF; m.Cpu.State.Esp = 0xFF00;
        }
        else
        {
            m.Load32(Guest.CodeBase, a => { Emit(a, codeRng, 300, false); a.hlt(); });
            m.Memory.Load(Guest.Data, data);
            for (int i = 0; i < 8; i++) m.Cpu.State[i] = init[i];
            m.Cpu.State.Esi = Guest.Data; m.Cpu.State.Edi = (uint)rng.Next(0, 16); m.Cpu.State.Esp = 0x9_0000;
        }
        m.Cpu.State.Eflags = 0x2 | (init[0] & 0x8D5); // random arithmetic flags on entry
        Assert.Equal(StopReason.Halted, m.Run(100_000));
        return m;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CompactHandlersAgreeWithGenericExecutor(bool code16)
    {
        for (int seed = 1; seed <= 40; seed++)
        {
            using var fast = RunStream(seed, code16, genericOnly: false);
            using var slow = RunStream(seed, code16, genericOnly: true);
            for (int r = 0; r < 8; r++)
                Assert.True(fast.Cpu.State[r] == slow.Cpu.State[r], $"seed {seed}: reg {r} fast {fast.Cpu.State[r]:X8} generic {slow.Cpu.State[r]:X8}");
            Assert.True(fast.Cpu.State.Eflags == slow.Cpu.State.Eflags, $"seed {seed}: eflags fast {fast.Cpu.State.Eflags:X} generic {slow.Cpu.State.Eflags:X}");
            Assert.Equal(slow.Cpu.State.Eip, fast.Cpu.State.Eip);
            uint dataAt = code16 ? 0x3_1000u : Guest.Data;
            var a = new byte[512]; var b = new byte[512];
            fast.Memory.Read(dataAt, a); slow.Memory.Read(dataAt, b);
            Assert.True(a.AsSpan().SequenceEqual(b), $"seed {seed}: data memory differs");
            var sa = new byte[256]; var sb = new byte[256];
            uint stack = code16 ? 0xFF00u - 0x100 : 0x9_0000u - 0x100;
            fast.Memory.Read(stack, sa); slow.Memory.Read(stack, sb);
            Assert.True(sa.AsSpan().SequenceEqual(sb), $"seed {seed}: stack memory differs");
        }
    }

    /// <summary>The comparison above is only meaningful if the two CPUs really decode differently.</summary>
    [Fact]
    public void GenericOnlyReallyBypassesTheCompactHandlers()
    {
        using var m = new TestMachine();
        m.Load32(Guest.CodeBase, a => { a.mov(eax, 1); a.add(eax, ebx); a.hlt(); });
        var fast = m.Cpu.DecodeForTest(Guest.CodeBase, code32: true);
        m.Cpu.GenericOnly = true;
        var slow = m.Cpu.DecodeForTest(Guest.CodeBase, code32: true);
        Assert.Contains(fast, op => op != Op.Generic);
        Assert.All(slow, op => Assert.Equal(Op.Generic, op));
    }
}
