namespace Virt.Pc.Boot;

/// <summary>Where a <see cref="BootModule"/> landed: [Start, End) in guest-physical memory, End exclusive as in the Multiboot module table.</summary>
public readonly record struct LoadedModule(string Name, uint Start, uint End);
