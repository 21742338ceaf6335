namespace Virt.Cpu.State;

/// <summary>GDTR or IDTR: a linear base and a 16-bit limit.</summary>
public struct DescriptorTableRegister
{
    public uint Base;
    public ushort Limit;
}
