namespace Virt.Cpu.Execution;

/// <summary>Exception vector numbers and their mnemonics.</summary>
public static class Vectors
{
    public const int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11,
        SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18;

    private static readonly string[] s_names =
        ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM"];

    public static string Name(int vector) => vector < s_names.Length ? s_names[vector] : $"int 0x{vector:X2}";

    /// <summary>Exceptions that push an error code when delivered.</summary>
    public static bool PushesErrorCode(int vector) => vector is DF or TS or NP or SS or GP or PF or AC;

    /// <summary>The double-fault classes of the SDM (table 6-4): benign, contributory, page fault.</summary>
    public static int FaultClass(int vector) => vector switch
    {
        DE or TS or NP or SS or GP => 1,
        PF => 2,
        _ => 0,
    };
}
