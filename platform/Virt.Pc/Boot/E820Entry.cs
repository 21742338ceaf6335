namespace Virt.Pc.Boot;

/// <summary>One entry of the BIOS memory map (INT 15h AX=E820h) as boot_params carries it.</summary>
public readonly record struct E820Entry(ulong Address, ulong Length, E820Type Type);

public enum E820Type : uint
{
    Ram = 1,
    Reserved = 2,
}
