namespace Virt.Cpu.Translation.Native;

/// <summary>
/// What RFLAGS holds besides the arithmetic flags while native code runs: in a Linux user process
/// bit 1 and IF, nothing else (DF is clear by the ABI; TF, AC, NT, IOPL are 0). Inline PUSHF
/// subtracts that constant instead of masking (masking would clobber the flags it reads). Checked
/// once by running PUSHFQ; POP RAX; RET: where the host differs, PUSHF goes to the interpreter.
/// </summary>
internal static unsafe class HostFlags
{
    public const int NonArithmetic = 0x202;

    public static bool PushfInlinable { get; } = Probe();

    /// <summary>
    /// LAHF and SAHF work in 64-bit mode (CPUID 0x80000001 ECX bit 0; every x86-64 CPU since 2006
    /// but the first ones). The emitter then copies the guest's flags with LAHF and SETO, a handful
    /// of one-cycle instructions, where PUSHFQ is microcoded (about 1 ns per copy measured on Zen 4,
    /// against 0.15 ns): the frame copy of every guarded access after a flag-writing op.
    /// </summary>
    public static bool LahfInLongMode { get; } =
        System.Runtime.Intrinsics.X86.X86Base.IsSupported && (System.Runtime.Intrinsics.X86.X86Base.CpuId(unchecked((int)0x8000_0001), 0).Ecx & 1) != 0;

    private static bool Probe()
    {
        nint page = Libc.Mmap(0, 4096, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
        if (page == -1) return false;
        try
        {
            byte* code = (byte*)page;
            code[0] = 0x9C; code[1] = 0x58; code[2] = 0xC3; // pushfq; pop rax; ret
            if (Libc.Mprotect(page, 4096, Libc.ProtRead | Libc.ProtExec) != 0) return false;
            ulong rflags = ((delegate* unmanaged[SuppressGCTransition]<ulong>)code)();
            return (rflags & ~(ulong)State.Flags.Arith) == NonArithmetic;
        }
        finally
        {
            Libc.Munmap(page, 4096);
        }
    }
}
