namespace Virt.Cpu.State;

/// <summary>EFLAGS bits.</summary>
public static class Flags
{
    public const uint CF = 1u << 0, Reserved1 = 1u << 1, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
        TF = 1u << 8, IF = 1u << 9, DF = 1u << 10, OF = 1u << 11, IOPL = 3u << 12, NT = 1u << 14,
        RF = 1u << 16, VM = 1u << 17, AC = 1u << 18, VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;

    /// <summary>The six arithmetic flags the lazy-flags machinery computes.</summary>
    public const uint Arith = CF | PF | AF | ZF | SF | OF;

    /// <summary>Bits software can change on an i686 (POPF/IRET masks narrow this by privilege).</summary>
    public const uint Writable = Arith | TF | IF | DF | OF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}
