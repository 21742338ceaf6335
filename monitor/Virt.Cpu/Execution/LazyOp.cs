namespace Virt.Cpu.Execution;

/// <summary>
/// The last flag-setting operation, recorded instead of computing all six arithmetic flags after
/// every instruction (most are never read). <see cref="None"/> means the flags are materialised in
/// the EFLAGS word.
/// </summary>
internal enum LazyOp : byte
{
    None,
    Add,   // res = a + b
    Adc,   // res = a + b + 1 (ADC with CF=1 on entry; ADC with CF=0 records Add)
    Sub,   // res = a - b (also CMP, NEG with a = 0)
    Sbb,   // res = a - b - 1
    Logic, // AND/OR/XOR/TEST: CF=OF=AF=0
    Inc,   // res = a + 1; CF kept in the EFLAGS word
    Dec,   // res = a - 1; CF kept in the EFLAGS word
}
