using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// What RFLAGS holds besides the arithmetic flags while native code runs: in a Linux user process
/// bit 1 and IF, nothing else (DF is clear by the ABI; TF, AC, NT, IOPL are 0). Inline PUSHF
/// subtracts that constant instead of masking (masking would clobber the flags it reads). Checked
/// once by running PUSHFQ; POP RAX; RET: where the host differs, PUSHF goes to the interpreter.
/// </summary>
internal static unsafe partial class HostFlags
{
    public const int NonArithmetic = 0x202;

    public static bool PushfInlinable { get; } = Probe();

    private static bool Probe()
    {
        nint page = Mmap(0, 4096, 3, 0x22, -1, 0); // read+write, private anonymous
        if (page == -1) return false;
        try
        {
            byte* code = (byte*)page;
            code[0] = 0x9C; code[1] = 0x58; code[2] = 0xC3; // pushfq; pop rax; ret
            if (Mprotect(page, 4096, 5) != 0) return false; // read+execute
            ulong rflags = ((delegate* unmanaged[SuppressGCTransition]<ulong>)code)();
            return (rflags & ~(ulong)State.Flags.Arith) == NonArithmetic;
        }
        finally
        {
            Munmap(page, 4096);
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint addr, nuint length);
}
