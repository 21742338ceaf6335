using System.Buffers.Binary;
using Iced.Intel;
using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>Per-group behaviour of <see cref="X87Fpu"/> that the hardware oracle cannot observe (state layouts, pointers, contract).</summary>
public sealed class FpuInstructionTests
{
    private const ushort C0 = 0x0100, C1 = 0x0200, C2 = 0x0400, C3 = 0x4000, Sf = 0x0040, Es = 0x0080;

    [Fact]
    public void Fpu_m80_round_trip_is_bit_exact_for_every_encoding_class()
    {
        var runner = new FpuRunner();
        foreach (var value in OperandGenerator.Specials)
        {
            runner.Push(value);
            runner.Memory = new byte[512];
            runner.Run(0xDB, 0x38); // fstp tword [eax]
            Assert.Equal(value, Float80.FromBytes(runner.Memory));
            Assert.Equal(0, runner.StatusWord & 0x3F);
        }
    }

    [Fact]
    public void Fpu_reset_and_init_states()
    {
        var fpu = new X87Fpu();
        Assert.Equal(0x0040, fpu.ControlWord);
        Assert.Equal(0x5555, fpu.TagWord);
        fpu.Init();
        Assert.Equal(0x037F, fpu.ControlWord);
        Assert.Equal(0xFFFF, fpu.TagWord);
        Assert.Equal(0, fpu.StatusWord);
    }

    [Fact]
    public void Fpu_stack_overflow_masked_pushes_indefinite_and_sets_c1()
    {
        var runner = new FpuRunner();
        for (var i = 0; i < 8; i++)
        {
            runner.Push(i);
        }

        runner.Run(0xD9, 0xE8); // fld1
        Assert.Equal(Float80.Indefinite, runner.St(0));
        Assert.Equal(0x0001 | Sf | C1, runner.StatusWord & (0x3F | Sf | C1));
        Assert.False(runner.Fpu.HasPendingUnmaskedException);
    }

    [Fact]
    public void Fpu_stack_underflow_unmasked_leaves_stack_and_sets_es()
    {
        var runner = new FpuRunner();
        runner.SetControlWord(0x037E); // IE unmasked
        runner.Push(2.0);
        runner.Run(0xDE, 0xC1); // faddp st1, st0 with ST1 empty
        Assert.Equal(7, runner.Top);
        Assert.Equal(Float80.FromDouble(2.0), runner.St(0));
        Assert.True(runner.Fpu.HasPendingUnmaskedException);
        Assert.Equal(0x8000 | Es | Sf | 0x0001, runner.StatusWord & (0x8000 | Es | Sf | 0x3F | C1));
        Assert.True(X87Fpu.IsWaitingInstruction(Code.Faddp_sti_st0));
        runner.Run(0xDB, 0xE2); // fnclex
        Assert.False(runner.Fpu.HasPendingUnmaskedException);
    }

    [Fact]
    public void Fpu_unmasked_invalid_keeps_destination_and_does_not_pop()
    {
        var runner = new FpuRunner();
        runner.SetControlWord(0x037E);
        runner.Push(double.PositiveInfinity);
        runner.Push(double.NegativeInfinity);
        runner.Run(0xDE, 0xC1); // faddp: inf + -inf
        Assert.Equal(6, runner.Top);
        Assert.Equal(Float80.PositiveInfinity, runner.St(1));
        Assert.True(runner.Fpu.HasPendingUnmaskedException);
    }

    [Fact]
    public void Fpu_unmasked_overflow_to_register_delivers_bias_adjusted_result()
    {
        var runner = new FpuRunner();
        runner.SetControlWord(0x0377); // OE unmasked
        var big = new Float80(0x7FFE, 0x8000_0000_0000_0000);
        runner.Push(big);
        runner.Push(big);
        runner.Run(0xD8, 0xC9); // fmul st0, st1 = 2^32767 → exponent 0x7FFE+0x3FFF+1−0x6000
        Assert.Equal(new Float80((ushort)(0x7FFE + 0x7FFE - 0x3FFF - 0x6000), 0x8000_0000_0000_0000), runner.St(0));
        Assert.Equal(0x0008, runner.StatusWord & 0x3F);
        Assert.True(runner.Fpu.HasPendingUnmaskedException);
    }

    [Fact]
    public void Fpu_unmasked_overflow_on_store_writes_nothing()
    {
        var runner = new FpuRunner();
        runner.SetControlWord(0x0377);
        runner.Push(1e300);
        runner.Memory = new byte[512];
        runner.Memory[0] = 0xAA;
        runner.Run(0xD9, 0x18); // fstp dword [eax]
        Assert.Equal(0xAA, runner.Memory[0]);
        Assert.Equal(7, runner.Top);
        Assert.Equal(0x0008, runner.StatusWord & 0x3F);
    }

    [Fact]
    public void Fpu_fstenv_protected_32_layout_and_masking()
    {
        var runner = new FpuRunner();
        runner.Context.CodeSelector = 0x08;
        runner.Context.InstructionPointer = 0x0040_1234;
        runner.Context.DataSelector = 0x10;
        runner.Context.DataOffset = 0x0080_0000;
        runner.SetControlWord(0x027A);
        runner.Push(1.0);
        runner.Memory = new byte[512];
        BitConverter.GetBytes(1.5f).CopyTo(runner.Memory, 0);
        runner.Run(0xD8, 0x40, 0x10); // fadd dword [eax+16] (opcode 0x040)
        runner.Memory = new byte[512];
        runner.Run(0xD9, 0x30); // fnstenv [eax]
        var m = runner.Memory;
        Assert.Equal(0xFFFF_027Au, BinaryPrimitives.ReadUInt32LittleEndian(m));
        Assert.Equal(0xFFFF_0000u | 0x3800, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(4)));
        Assert.Equal(0xFFFF_0000u | 0x3FFF, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(8)));
        Assert.Equal(0x0040_1234u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(12)));
        Assert.Equal((0x040u << 16) | 0x08, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(16)));
        Assert.Equal(0x0080_0000u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(20)));
        Assert.Equal(0xFFFF_0010u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(24)));
        Assert.Equal(0x027F, runner.Fpu.ControlWord);
    }

    [Fact]
    public void Fpu_fstenv_16_bit_and_real_mode_layouts()
    {
        var runner = new FpuRunner();
        runner.Context.CodeSelector = 0x1234;
        runner.Context.InstructionPointer = 0x5678;
        runner.Context.DataSelector = 0x2000;
        runner.Context.DataOffset = 0x0010;
        runner.Run(0xD9, 0xE8); // fld1 (opcode 0x1E8), no memory operand: data pointer stays 0
        runner.Push(2.0); // fld tword [eax]: opcode 0x328, data 2000:0010
        runner.Context.OperandSize32 = false;
        runner.Context.ProtectedMode = true;
        runner.Memory = new byte[512];
        runner.Run(0x66, 0xD9, 0x30); // 16-bit fnstenv [eax]
        var m = runner.Memory;
        Assert.Equal(0x5678, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(6)));
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(8)));
        Assert.Equal(0x0010, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(10)));
        Assert.Equal(0x2000, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(12)));

        runner.Context.ProtectedMode = false;
        runner.Memory = new byte[512];
        runner.Run(0x66, 0xD9, 0x30);
        m = runner.Memory;
        // Linear FIP = 0x12340 + 0x5678 = 0x179B8; FDP = 0x20000 + 0x10.
        Assert.Equal(0x79B8, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(6)));
        Assert.Equal((0x1 << 12) | 0x328, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(8)));
        Assert.Equal(0x0010, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(10)));
        Assert.Equal(0x2 << 12, BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(12)));

        runner.Context.OperandSize32 = true;
        runner.Memory = new byte[512];
        runner.Run(0xD9, 0x30);
        m = runner.Memory;
        Assert.Equal(0xFFFF_79B8u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(12)));
        Assert.Equal((0x0001u << 12) | 0x328, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(16)));
        Assert.Equal(0xFFFF_0010u, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(20)));
        Assert.Equal(0x0002u << 12, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(24)));

        // FLDENV of the real-mode image restores the linear pointers with zero selectors.
        var image = m.AsSpan(0, 28).ToArray();
        var other = new FpuRunner();
        other.Context.ProtectedMode = false;
        image.CopyTo(other.Memory, 0);
        other.Run(0xD9, 0x20); // fldenv [eax]
        Assert.Equal(0x179B8u, other.Fpu.InstructionPointer);
        Assert.Equal(0, other.Fpu.CodeSelector);
        Assert.Equal(0x20010u, other.Fpu.DataPointer);
        Assert.Equal(0x328, other.Fpu.LastOpcode);
        // Only emptiness comes from the image; FLDENV leaves the register contents (here +0) alone.
        Assert.Equal(runner.Fpu.AbridgedTagWord, other.Fpu.AbridgedTagWord);
    }

    [Fact]
    public void Fpu_fsave_frstor_round_trip_restores_everything_and_fsave_reinitialises()
    {
        var runner = new FpuRunner();
        runner.SetControlWord(0x0A7E);
        runner.Push(new Float80(0x7FFF, 0x8000_0000_0000_0001)); // SNaN, kept as is
        runner.Push(-3.25);
        runner.Push(new Float80(0x0000, 0x0000_0000_0000_0042)); // denormal
        runner.Push(double.PositiveInfinity);
        runner.Push(double.PositiveInfinity);
        runner.Run(0xDE, 0xE9); // fsubp: inf − inf, IE unmasked → pending, no pop
        var before = Snapshot(runner.Fpu);
        Assert.True(runner.Fpu.HasPendingUnmaskedException);

        runner.Memory = new byte[512];
        runner.Run(0xDD, 0x30); // fnsave [eax]
        var image = runner.Memory.AsSpan(0, 108).ToArray();
        Assert.Equal(0x037F, runner.Fpu.ControlWord);
        Assert.Equal(0xFFFF, runner.Fpu.TagWord);
        Assert.False(runner.Fpu.HasPendingUnmaskedException);

        image.CopyTo(runner.Memory, 0);
        runner.Run(0xDD, 0x20); // frstor [eax]
        Assert.Equal(before, Snapshot(runner.Fpu));
        Assert.True(runner.Fpu.HasPendingUnmaskedException);
    }

    private static string Snapshot(X87Fpu fpu)
    {
        var registers = string.Join(",", Enumerable.Range(0, 8).Select(i => fpu.GetPhysicalRegister(i).ToString()));
        return $"{fpu.ControlWord:X4} {fpu.StatusWord:X4} {fpu.TagWord:X4} {fpu.InstructionPointer:X8} {fpu.LastOpcode:X3} {registers}";
    }

    [Fact]
    public void Fpu_pointers_update_only_for_non_control_instructions()
    {
        var runner = new FpuRunner();
        runner.Context.InstructionPointer = 0x100;
        runner.Context.CodeSelector = 0x08;
        runner.Push(1.0);
        Assert.Equal(0x100u, runner.Fpu.InstructionPointer);
        Assert.Equal(0x328, runner.Fpu.LastOpcode);
        runner.Context.InstructionPointer = 0x200;
        runner.Run(0xD9, 0x38); // fnstcw: control, no update
        runner.Run(0xDF, 0xE0); // fnstsw ax: control
        Assert.Equal(0x100u, runner.Fpu.InstructionPointer);
        runner.Run(0xD9, 0xE0); // fchs
        Assert.Equal(0x200u, runner.Fpu.InstructionPointer);
        Assert.Equal(0x1E0, runner.Fpu.LastOpcode);
        Assert.Equal(runner.StatusWord, runner.Context.Ax);
    }

    [Theory]
    [InlineData(new byte[] { 0xDD, 0x5C, 0x24, 0x08 }, 0x55C)] // fstp qword [esp+8]
    [InlineData(new byte[] { 0xD8, 0x05, 0x00, 0x10, 0x00, 0x00 }, 0x005)] // fadd dword [0x1000]
    [InlineData(new byte[] { 0xDC, 0x4D, 0x00 }, 0x44D)] // fmul qword [ebp]
    [InlineData(new byte[] { 0xDE, 0xF9 }, 0x6F9)] // fdivp st1, st0
    [InlineData(new byte[] { 0x67, 0xDB, 0x2F }, 0x32F)] // fld tword [bx]
    [InlineData(new byte[] { 0x67, 0xD9, 0x46, 0x04 }, 0x146)] // fld dword [bp+4]
    public void Fpu_last_opcode_is_reconstructed_from_the_decoded_instruction(byte[] bytes, int expected)
    {
        var runner = new FpuRunner();
        runner.Push(1.0);
        runner.Push(2.0);
        runner.Run(bytes);
        Assert.Equal(expected, runner.Fpu.LastOpcode);
    }

    [Fact]
    public void Fpu_waiting_classification_and_non_x87_instructions()
    {
        Assert.False(X87Fpu.IsWaitingInstruction(Code.Fninit));
        Assert.False(X87Fpu.IsWaitingInstruction(Code.Fnstsw_AX));
        Assert.False(X87Fpu.IsWaitingInstruction(Code.Fnsave_m108byte));
        Assert.True(X87Fpu.IsWaitingInstruction(Code.Finit));
        Assert.True(X87Fpu.IsWaitingInstruction(Code.Fstsw_AX));
        Assert.True(X87Fpu.IsWaitingInstruction(Code.Fsin));
        // Iced decodes FWAIT separately from the no-wait form that follows it.
        Assert.Equal(Code.Wait, FpuRunner.Decode(0x9B).Code);

        var runner = new FpuRunner();
        Assert.Equal(X87Outcome.InvalidOpcode, runner.Run(0x0F, 0x0E)); // femms
        Assert.Equal(X87Outcome.InvalidOpcode, runner.Run(0x0F, 0xAE, 0x00)); // fxsave
        Assert.Equal(X87Outcome.Completed, runner.Run(0xDB, 0xE4)); // fnsetpm: no-op on a 387+
        Assert.Equal(X87Outcome.Completed, runner.Run(0xDB, 0xE0)); // fneni
    }

    [Fact]
    public void Fpu_fprem_reports_quotient_bits()
    {
        var runner = new FpuRunner();
        runner.Push(5.0);
        runner.Push(23.0);
        runner.Run(0xD9, 0xF8); // fprem: 23 = 4·5 + 3
        Assert.Equal(Float80.FromDouble(3.0), runner.St(0));
        Assert.Equal(C0, runner.StatusWord & (C0 | C1 | C2 | C3));
        runner.Push(5.0);
        runner.Push(-23.0);
        runner.Run(0xD9, 0xF5); // fprem1: −23 = −5·5 + 2 → q = 5 (C0, C1), remainder +2
        Assert.Equal(Float80.FromDouble(2.0), runner.St(0));
        Assert.Equal(C0 | C1, runner.StatusWord & (C0 | C1 | C2 | C3));
    }

    [Fact]
    public void Fpu_fcomi_and_fcmov_use_eflags()
    {
        var runner = new FpuRunner();
        runner.Push(2.0);
        runner.Push(1.0);
        runner.Context.Eflags = 0x802 | 0x80 | 0x10;
        runner.Run(0xDB, 0xF1); // fcomi st0, st1: 1 < 2 → CF
        Assert.Equal(0x003u, runner.Context.Eflags);
        runner.Run(0xDA, 0xC1); // fcmovb st0, st1 → ST0 = 2
        Assert.Equal(Float80.FromDouble(2.0), runner.St(0));
        runner.Push(double.NaN);
        runner.Run(0xDB, 0xE9); // fucomi st0, st1 with QNaN: unordered, no IE
        Assert.Equal(0x047u, runner.Context.Eflags);
        Assert.Equal(0, runner.StatusWord & 1);
    }

    [Fact]
    public void Fpu_fxam_classifies_every_encoding()
    {
        (Float80 Value, ushort Codes)[] expectations =
        [
            (new Float80(0x3FFF, 0x4000_0000_0000_0000), 0),
            (new Float80(0x7FFF, 0xC000_0000_0000_0000), C0),
            (Float80.One, C2),
            (Float80.NegativeInfinity, (ushort)(C2 | C0 | C1)),
            (Float80.PositiveZero, C3),
            (new Float80(0x0000, 0x0000_0000_0000_0001), (ushort)(C3 | C2)),
        ];
        foreach (var (value, codes) in expectations)
        {
            var runner = new FpuRunner();
            runner.Push(value);
            runner.Run(0xD9, 0xE5);
            Assert.Equal(codes, runner.StatusWord & (C0 | C1 | C2 | C3));
        }

        var empty = new FpuRunner();
        empty.Run(0xD9, 0xE5);
        Assert.Equal(C3 | C0, empty.StatusWord & (C0 | C1 | C2 | C3));
    }

    [Fact]
    public void Fpu_bcd_store_and_load_round_trip()
    {
        var runner = new FpuRunner();
        runner.Push(SoftFloat80.FromInt64(-987654321098765432));
        runner.Memory = new byte[512];
        runner.Run(0xDF, 0x30); // fbstp [eax]
        Assert.Equal("32547698103254769880", Convert.ToHexString(runner.Memory, 0, 10));
        runner.Run(0xDF, 0x20); // fbld [eax]
        Assert.Equal(SoftFloat80.FromInt64(-987654321098765432), runner.St(0));
        runner.Push(1e18);
        runner.Memory = new byte[512];
        runner.Run(0xDF, 0x30);
        Assert.Equal("00000000000000C0FFFF", Convert.ToHexString(runner.Memory, 0, 10));
        Assert.Equal(1, runner.StatusWord & 1);
    }

    [Fact]
    public void Fpu_trigonometric_out_of_range_sets_c2_and_leaves_the_stack()
    {
        var runner = new FpuRunner();
        var huge = new Float80(0x403E + 1, 0x8000_0000_0000_0000); // 2^64
        runner.Push(huge);
        runner.Run(0xD9, 0xF2); // fptan
        Assert.Equal(7, runner.Top);
        Assert.Equal(huge, runner.St(0));
        Assert.Equal(C2, runner.StatusWord & C2);
        runner.Run(0xD9, 0xEB); // fldpi
        runner.Run(0xD9, 0xFE); // fsin(π) = tiny, computed with the hardware's 66-bit π
        Assert.Equal(0, runner.StatusWord & C2);
        Assert.True(Math.Abs(runner.St(0).ToDouble()) < 1e-18);
    }
}
