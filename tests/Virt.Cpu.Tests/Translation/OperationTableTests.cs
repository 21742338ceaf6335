using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Translation;

/// <summary>
/// The operation table (Execution/OperationTable.cs), which tells the native backend what to copy,
/// what to emit and what to leave to the interpreter's handlers: complete for the conditional
/// families, and its default, the handler call, taken from inside native code with the result the
/// reference executor gives.
/// </summary>
public sealed class OperationTableTests
{
    private static readonly string[] s_conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

    [Fact]
    public void Every_condition_has_its_setcc_and_cmovcc_copied_and_its_jcc_emitted()
    {
        foreach (string cc in s_conditions)
        {
            string name = char.ToUpperInvariant(cc[0]) + cc[1..];
            Assert.Equal(NativeForm.Copied, OperationTable.Of(Enum.Parse<Mnemonic>("Set" + cc, ignoreCase: true)).Native);
            Assert.Equal(NativeForm.Copied, OperationTable.Of(Enum.Parse<Mnemonic>("Cmov" + cc, ignoreCase: true)).Native);
            Assert.Equal(NativeForm.Emitted, OperationTable.Of(Enum.Parse<Mnemonic>("J" + cc, ignoreCase: true)).Native);
        }
    }

    [Fact]
    public void Only_compare_test_and_bit_test_read_their_memory_operand_without_writing_it()
    {
        var readers = Enum.GetValues<Mnemonic>().Where(m => OperationTable.Of(m).Memory == MemoryUse.ReadsOnly).ToHashSet();
        Assert.Equal(new HashSet<Mnemonic> { Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt }, readers);
    }

    /// <summary>
    /// SAHF and CPUID have no row: inside a native loop each is a direct call to the interpreter's
    /// handler, native code resuming after it, and the registers and flags match the reference's.
    /// </summary>
    [Fact]
    public void An_operation_without_a_row_runs_in_its_handler_from_native_code()
    {
        static void Loop(Assembler a)
        {
            Label top = a.CreateLabel();
            a.mov(esi, 200);
            a.Label(ref top);
            a.mov(eax, 0);
            a.cpuid();
            a.add(edi, ebx);
            a.mov(eax, esi);
            a.shl(eax, 8);
            a.sahf();
            a.adc(ebp, 1);
            a.dec(esi);
            a.jnz(top);
        }
        using var native = Guest.Flat(Loop, engine: Engines.Native);
        using var reference = Guest.Flat(Loop, engine: Engines.Interpreter);
        Assert.Equal(NativeForm.Handler, OperationTable.Of(Mnemonic.Sahf).Native);
        Assert.Equal(NativeForm.Handler, OperationTable.Of(Mnemonic.Cpuid).Native);
        SameState.Registers(reference, native);
        Assert.Equal(reference.Cpu.State.Eflags, native.Cpu.State.Eflags);
        Assert.Equal(reference.Cpu.InstructionsRetired, native.Cpu.InstructionsRetired);
        var stats = native.Cpu.EngineStats;
        Assert.True(stats.NativeHandlerCalls >= 2 * 199, $"handler calls {stats.NativeHandlerCalls}");
        Assert.Contains(stats.NativeStops, kv => kv.Key == "sahf");
        Assert.Contains(stats.NativeStops, kv => kv.Key == "cpuid");
    }
}
