using Iced.Intel;

namespace Virt.Cpu.Execution;

/// <summary>How the native backend runs an operation (plex86's split: innocuous copied, naughty called out).</summary>
internal enum NativeForm : byte
{
    /// <summary>
    /// The interpreter's handler runs it, called directly from native code with the guest state
    /// exact at that instruction (privileged, I/O, system, x87, rare and 16-bit-only forms). The
    /// default for every operation not listed: a new instruction needs only its interpreter semantics.
    /// </summary>
    Handler,
    /// <summary>Copied 1:1: the host instruction computes the result and the guest's flags; only its register and memory operands are renamed.</summary>
    Copied,
    /// <summary>Emitted by the backend in a form of its own (stack, EFLAGS, control transfer, strings, RDTSC, DIV/IDIV with #DE exact).</summary>
    Emitted,
}

/// <summary>What a copied operation does with a memory operand: decides whether its TLB lookup is a read or a write lookup.</summary>
internal enum MemoryUse : byte
{
    /// <summary>Writes a memory destination (operand 0); a memory source is only read.</summary>
    WritesDestination,
    /// <summary>Only reads (CMP, TEST, BT).</summary>
    ReadsOnly,
    /// <summary>Writes its memory operand wherever it stands (XCHG, XADD, CMPXCHG, CMPXCHG8B).</summary>
    WritesAlways,
}

/// <summary>One row of <see cref="OperationTable"/>.</summary>
internal readonly record struct Operation(NativeForm Native, MemoryUse Memory = MemoryUse.WritesDestination);

/// <summary>
/// The operations by Iced mnemonic, one row each: what the engines need to know beyond an
/// instruction's semantics, which live in one place, the interpreter's reference executor
/// (Cpu.Generic.cs and the handlers it calls). Both engines run the same decoded form (a
/// <see cref="Block"/>: Iced's instructions and the compact ops built from them); the native backend
/// (Translation/Native/NativeBlockCompiler.cs) asks this table whether to copy an instruction, emit
/// its own form, or call the interpreter's handler, and how a copied one uses memory. Adding an
/// instruction: its semantics in the interpreter; a row here only if native code may copy or emit
/// it (the operand forms the emitter accepts are its own checks, NativeBlockCompiler.Supported).
/// </summary>
internal static class OperationTable
{
    private static readonly Operation[] s_rows = Build();

    /// <summary>The row of <paramref name="mnemonic"/> (<see cref="NativeForm.Handler"/> when it has none).</summary>
    public static Operation Of(Mnemonic mnemonic) => s_rows[(int)mnemonic];

    private static Operation[] Build()
    {
        var rows = new Operation[Enum.GetValues<Mnemonic>().Length];
        void Set(NativeForm form, MemoryUse memory, params Mnemonic[] mnemonics)
        {
            foreach (Mnemonic m in mnemonics)
            {
                if (rows[(int)m].Native != NativeForm.Handler) throw new InvalidOperationException($"{m} has two rows");
                rows[(int)m] = new Operation(form, memory);
            }
        }

        // ---- Copied 1:1 ----
        Set(NativeForm.Copied, MemoryUse.WritesDestination,
            // Data movement
            Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Lea, Mnemonic.Bswap,
            Mnemonic.Cdq, Mnemonic.Cwde, Mnemonic.Cbw, Mnemonic.Cwd, Mnemonic.Nop,
            // Arithmetic and logic
            Mnemonic.Add, Mnemonic.Or, Mnemonic.Adc, Mnemonic.Sbb, Mnemonic.And, Mnemonic.Sub, Mnemonic.Xor,
            Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not,
            // Shifts and rotates
            Mnemonic.Shl, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Shld, Mnemonic.Shrd,
            // Multiplication, bit scans and bit tests that write
            Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Bsf, Mnemonic.Bsr, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc);
        Set(NativeForm.Copied, MemoryUse.ReadsOnly, Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt);
        Set(NativeForm.Copied, MemoryUse.WritesAlways, Mnemonic.Xchg, Mnemonic.Xadd, Mnemonic.Cmpxchg, Mnemonic.Cmpxchg8b);
        Set(NativeForm.Copied, MemoryUse.WritesDestination,
            Mnemonic.Seta, Mnemonic.Setae, Mnemonic.Setb, Mnemonic.Setbe, Mnemonic.Sete, Mnemonic.Setg, Mnemonic.Setge, Mnemonic.Setl,
            Mnemonic.Setle, Mnemonic.Setne, Mnemonic.Setno, Mnemonic.Setnp, Mnemonic.Setns, Mnemonic.Seto, Mnemonic.Setp, Mnemonic.Sets,
            Mnemonic.Cmova, Mnemonic.Cmovae, Mnemonic.Cmovb, Mnemonic.Cmovbe, Mnemonic.Cmove, Mnemonic.Cmovg, Mnemonic.Cmovge, Mnemonic.Cmovl,
            Mnemonic.Cmovle, Mnemonic.Cmovne, Mnemonic.Cmovno, Mnemonic.Cmovnp, Mnemonic.Cmovns, Mnemonic.Cmovo, Mnemonic.Cmovp, Mnemonic.Cmovs);

        // ---- Emitted in a form of the backend's own ----
        Set(NativeForm.Emitted, MemoryUse.WritesDestination,
            // The stack (guest ESP lives in R15D) and EFLAGS (IF/IOPL rules inline, never a call: VMI's lesson)
            Mnemonic.Push, Mnemonic.Pop, Mnemonic.Leave, Mnemonic.Cli, Mnemonic.Sti, Mnemonic.Pushfd, Mnemonic.Popfd,
            // Control transfer: chained, or through the jump table
            Mnemonic.Call, Mnemonic.Ret, Mnemonic.Jmp,
            Mnemonic.Ja, Mnemonic.Jae, Mnemonic.Jb, Mnemonic.Jbe, Mnemonic.Je, Mnemonic.Jg, Mnemonic.Jge, Mnemonic.Jl,
            Mnemonic.Jle, Mnemonic.Jne, Mnemonic.Jno, Mnemonic.Jnp, Mnemonic.Jns, Mnemonic.Jo, Mnemonic.Jp, Mnemonic.Js,
            // Strings, element by element through the TLB
            Mnemonic.Lodsb, Mnemonic.Lodsw, Mnemonic.Lodsd, Mnemonic.Stosb, Mnemonic.Stosw, Mnemonic.Stosd,
            Mnemonic.Movsb, Mnemonic.Movsw, Mnemonic.Movsd, Mnemonic.Scasb, Mnemonic.Scasw, Mnemonic.Scasd,
            Mnemonic.Cmpsb, Mnemonic.Cmpsw, Mnemonic.Cmpsd,
            // The guest's TSC, division with #DE checked before the host divides, and PAUSE as nothing
            Mnemonic.Rdtsc, Mnemonic.Div, Mnemonic.Idiv, Mnemonic.Pause);
        return rows;
    }
}
