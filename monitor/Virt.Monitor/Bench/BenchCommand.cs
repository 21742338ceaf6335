using System.CommandLine;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench`: the benchmarks, each its own subcommand.</summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "measure the monitor: figures, never pass or fail")
    {
        WakeupBenchmarkCommand.Create(),
        BootBenchmarkCommand.Create(),
        IoBenchmarkCommand.Create(),
        ParavirtBenchmarkCommand.Create(),
        SnapshotBenchmarkCommand.Create(),
    };
}
