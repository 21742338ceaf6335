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
