using Iced.Intel;

namespace Virt.Cpu.Tests.Vectors;

/// <summary>
/// Where an i686 may legitimately disagree with the 80286 vectors: whole tests skipped and flag
/// bits masked, each with the reason. Anything not listed here must match exactly.
/// </summary>
/// <summary>
/// Parts of the final state not compared for one test: flag bits, whole registers, or bits of RAM
/// bytes (a FLAGS image pushed on the stack), with the reason.
/// </summary>
internal sealed record VectorMask(string Reason, ushort Flags = 0, string[]? Regs = null, (uint Address, byte Bits)[]? Ram = null);

internal static class VectorRules
{
    public const ushort CF = 0x001, PF = 0x004, AF = 0x010, ZF = 0x040, SF = 0x080, OF = 0x800;
    private const ushort Arith = CF | PF | AF | ZF | SF | OF;

    // ---- Skip reasons ----
    public const string Revoked = "skip: hash listed in revocation_list.txt (known-bad capture)";
    public const string LockUd = "skip: LOCK on an instruction that cannot be locked - the 286 ignores the prefix, an i686 raises #UD (SDM vol. 2, LOCK)";
    public const string TooLong = "skip: longer than 10 bytes (redundant prefixes) - the 286 raises #GP at its length limit, an i686 allows 15 bytes";
    public const string FsGs = "skip: segment register 4/5 in MOV Sreg - FS/GS do not exist on the 286 (#UD), an i686 has them";
    public const string NoFpu = "skip: x87 ESC - the 286 rig had no coprocessor and stepped over it; the x87 unit is not part of these vectors";
    public const string FetchWrap = "skip: the instruction or its HLT runs past offset FFFF - the 286 wraps IP inside CS, an i686 raises #GP at the CS limit";

    // ---- Flag masks: the SDM leaves these flags undefined after the instruction ----
    private const string LogicAf = "mask AF: undefined after AND/OR/XOR/TEST (SDM)";
    private const string MulFlags = "mask SF ZF AF PF: undefined after MUL/IMUL (SDM)";
    private const string DivFlags = "mask CF PF AF ZF SF OF: undefined after DIV/IDIV (SDM)";
    private const string DaaOf = "mask OF: undefined after DAA/DAS (SDM)";
    private const string AaaFlags = "mask OF SF ZF PF: undefined after AAA/AAS (SDM)";
    private const string AamFlags = "mask OF AF CF: undefined after AAM/AAD (SDM)";
    private const string RotOf = "mask OF: undefined after a rotate whose masked count is not 1 (SDM)";
    private const string ShiftOf = "mask OF: undefined after a shift whose masked count is not 1 (SDM)";
    private const string ShiftAf = "mask AF: undefined after a shift with a nonzero count (SDM)";
    private const string DivPushedFlags = "mask the arithmetic bits of the FLAGS image #DE pushes: undefined after DIV/IDIV, and the 286 changes them before it faults";
    private const string StringWordWrap = "mask SI/DI/CX: a word string access at offset FFFF - the 286 advances SI/DI (and REP's CX) before it raises int 13, an i686 faults with them unchanged";
    public const string SsOverrun = "skip: stack-segment overrun (word at SS:FFFF) - the 286 in real mode raises int 13, an i686 raises #SS (int 12) (SDM real-address-mode exceptions)";
    public const string IpWrap = "mask IP bit 16: a HLT at offset FFFF leaves the 286 at IP 0000; an i686 holds EIP 10000 (its next fetch would #GP)";
    private const string ShiftCf = "mask CF: undefined after SHL/SHR when the count is at least the operand size (SDM)";

    /// <summary>Unconditional flag masks by file key (opcode, or opcode.reg for groups).</summary>
    private static readonly Dictionary<string, (ushort Mask, string Reason)> s_flagMasks = Build();

    private static Dictionary<string, (ushort, string)> Build()
    {
        var t = new Dictionary<string, (ushort, string)>();
        foreach (string k in (string[])["08", "09", "0A", "0B", "0C", "0D", "20", "21", "22", "23", "24", "25", "30", "31", "32", "33", "34", "35",
                     "84", "85", "A8", "A9", "F6.0", "F6.1", "F7.0", "F7.1"])
            t[k] = (AF, LogicAf);
        foreach (string g in (string[])["80", "81", "82", "83"])
            foreach (int r in (int[])[1, 4, 6])
                t[$"{g}.{r}"] = (AF, LogicAf);
        foreach (string k in (string[])["F6.4", "F6.5", "F7.4", "F7.5", "69", "6B"]) t[k] = (SF | ZF | AF | PF, MulFlags);
        foreach (string k in (string[])["F6.6", "F6.7", "F7.6", "F7.7"]) t[k] = (Arith, DivFlags);
        t["27"] = t["2F"] = (OF, DaaOf);
        t["37"] = t["3F"] = (OF | SF | ZF | PF, AaaFlags);
        t["D4"] = t["D5"] = (OF | AF | CF, AamFlags);
        return t;
    }

    /// <summary>Why this test is not run on an i686, or null to run it.</summary>
    public static string? SkipReason(string key, VectorCase t, in Instruction ins, HashSet<string> revoked)
    {
        if (revoked.Contains(t.Hash)) return Revoked;
        if (HasLockPrefix(t.Bytes) && ins.Code == Code.INVALID) return LockUd;
        if (ins.Length > 10) return TooLong;
        if (key == "D8") return NoFpu;
        if (key is "8C" or "8E" && ins.Code != Code.INVALID && (ins.Op0Register is Register.FS or Register.GS || ins.Op1Register is Register.FS or Register.GS))
            return FsGs;
        // The instruction plus the HLT after it must lie inside the 64 KiB code segment.
        if (t.Initial.Regs["ip"] + t.Bytes.Length > 0x10000) return FetchWrap;
        return null;
    }

    private static bool HasLockPrefix(int[] bytes)
    {
        foreach (int b in bytes)
        {
            if (b == 0xF0) return true;
            if (b is not (0x26 or 0x2E or 0x36 or 0x3E or 0xF2 or 0xF3)) return false;
        }
        return false;
    }

    /// <summary>The flag masks that apply to this test, with their reasons.</summary>
    public static void Masks(string key, VectorCase t, in Instruction ins, List<VectorMask> into)
    {
        into.Clear();
        var init = t.Initial.Regs;
        if (s_flagMasks.TryGetValue(key, out var m)) into.Add(new VectorMask(m.Reason, m.Mask));
        if (key is "F6.6" or "F6.7" or "F7.6" or "F7.7" && t.Final.Regs.ContainsKey("cs"))
        {
            // #DE: the FLAGS image is the third word of the interrupt frame.
            int ss = t.Final.Regs.GetValueOrDefault("ss", init["ss"]);
            int sp = t.Final.Regs.GetValueOrDefault("sp", init["sp"]);
            uint at = (uint)(ss * 16 + ((sp + 4) & 0xFFFF));
            into.Add(new VectorMask(DivPushedFlags, Ram: [(at, (byte)(CF | PF | AF | ZF | SF)), (at + 1, (byte)(OF >> 8))]));
        }
        // A word string op that ended in the exception handler: the fault was a word straddling offset FFFF.
        bool faulted = t.Final.Regs.GetValueOrDefault("ip", init["ip"]) != ((init["ip"] + t.Bytes.Length) & 0xFFFF);
        if (key is "A5" or "A7" or "AB" or "AD" or "AF" or "6D" or "6F" && faulted)
            into.Add(new VectorMask(StringWordWrap, Regs: ["si", "di", "cx"]));
        string op = key.Length > 2 ? key[..2] : key;
        if (op is "D0" or "D1" or "D2" or "D3" or "C0" or "C1" && key.Length > 2)
        {
            int reg = key[3] - '0';
            int bits = op is "D0" or "D2" or "C0" ? 8 : 16;
            int count = op is "D0" or "D1" ? 1 : op is "D2" or "D3" ? t.Initial.Regs["cx"] & 0xFF : ins.Immediate8;
            count &= 31;
            if (count == 0) return;
            if (reg < 4)
            {
                if (count != 1) into.Add(new VectorMask(RotOf, OF));
            }
            else
            {
                if (count != 1) into.Add(new VectorMask(ShiftOf, OF));
                into.Add(new VectorMask(ShiftAf, AF));
                if (reg != 7 && count >= bits) into.Add(new VectorMask(ShiftCf, CF));
            }
        }
    }
}
