namespace Virt.Pc.Boot;

/// <summary>
/// What <see cref="MultibootLoader.Load"/> did: the entry point, where the info structure lives
/// (EBX at entry), the physical range the kernel image and bss cover, and where each module went.
/// Hosts and tests use it to check the layout; the guest only sees the info structure.
/// </summary>
public sealed record MultibootBoot(
    uint Entry,
    uint InfoAddress,
    uint KernelStart,
    uint KernelEnd,
    bool AoutKludge,
    IReadOnlyList<LoadedModule> Modules);
