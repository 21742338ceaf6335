namespace Virt.Cpu.Fpu;

/// <summary>
/// Control word PC field (bits 9-8): the significand width FADD/FSUB/FMUL/FDIV/FSQRT round to.
/// The exponent range stays the extended one whatever PC says. The reserved encoding 01 behaves as
/// extended here.
/// </summary>
public enum X87PrecisionControl
{
    Single = 0,
    Reserved = 1,
    Double = 2,
    Extended = 3,
}
