namespace Virt.Cpu.Fpu;

/// <summary>The six x87 exception flags, with the bit positions they have in both the status and control words.</summary>
[Flags]
public enum X87ExceptionFlags : ushort
{
    None = 0,
    Invalid = 0x01,
    Denormal = 0x02,
    ZeroDivide = 0x04,
    Overflow = 0x08,
    Underflow = 0x10,
    Precision = 0x20,
    All = 0x3F,
}
