namespace Virt.Bench;

/// <summary>
/// One benchmark workload of guests/bench.c: its mode on the guest command line, and iteration
/// counts for the interpreter, for QEMU (far faster, so it needs more work to rise above its
/// start-up time) and for the baseline run that both subtract.
/// </summary>
public sealed record Workload(string Mode, string Description, long OurIterations, long QemuIterations, long BaselineIterations)
{
    public string CommandLine(long iterations) => $"mode={Mode} iters={iterations}";

    public static IReadOnlyList<Workload> All(bool quick) =>
    [
        new("reg", "register-only loop (4 instr/iter)", quick ? 5_000_000 : 25_000_000, quick ? 100_000_000 : 500_000_000, 1000),
        new("mem", "load/store loop, paging on (8 instr/iter)", quick ? 2_500_000 : 12_500_000, quick ? 20_000_000 : 150_000_000, 1000),
        new("crc", "compiled C: CRC-32 + insertion sort", quick ? 2_000 : 10_000, quick ? 20_000 : 200_000, 10),
    ];
}
