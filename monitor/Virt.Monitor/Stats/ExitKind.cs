namespace Virt.Monitor.Stats;

/// <summary>
/// The reasons an exit is counted under (the report's "exitsByReason", `virt top`'s rows, the
/// timeline's series). A closed set, so the VCPU counts into an array slot and any other thread
/// can read the counters while it runs (a sampler, a `virt top` client) without a lock.
/// </summary>
public enum ExitKind
{
    IoIn,
    IoInString,
    IoOut,
    IoOutString,
    MmioRead,
    MmioWrite,
    Halt,
}

public static class ExitKinds
{
    public const int Count = (int)ExitKind.Halt + 1;

    private static readonly string[] Names = ["io-in", "io-in-string", "io-out", "io-out-string", "mmio-read", "mmio-write", "hlt"];

    /// <summary>The name in the report, the JSON and `virt top` (e.g. "io-out").</summary>
    public static string Name(ExitKind kind) => Names[(int)kind];

    public static IEnumerable<ExitKind> All => Enum.GetValues<ExitKind>();
}
