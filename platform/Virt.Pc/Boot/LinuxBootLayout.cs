namespace Virt.Pc.Boot;

/// <summary>
/// Where <see cref="LinuxLoader"/> put things in guest memory, for the host and for tests.
/// </summary>
public sealed record LinuxBootLayout(
    uint GdtAddress,
    uint BootParamsAddress,
    uint CommandLineAddress,
    uint KernelAddress,
    uint KernelSize,
    uint InitrdAddress,
    uint InitrdSize,
    uint EntryPoint,
    IReadOnlyList<E820Entry> MemoryMap);
