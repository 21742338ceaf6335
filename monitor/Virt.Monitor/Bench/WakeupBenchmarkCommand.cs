using System.CommandLine;
using Virt.CommandLine;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench wakeup`'s command line.</summary>
public static class WakeupBenchmarkCommand
{
    public static Command Create()
    {
        Option<int> iterations = LastValueOption.Create("--iterations", "N", "round trips per option (default 20000)", CountParser.Between("--iterations", 1, 100_000_000));
        Option<List<WakeMode>?> modes = LastValueOption.Create<List<WakeMode>?>("--modes", "LIST",
            "the wake-up options measured, from adaptive,spin,spin-futex,futex,socket (default all)", s => [.. s.Split(',').Select(WakeupBenchmark.ParseMode)]);
        Option<int> spin = LastValueOption.Create("--spin-us", "N", "spin time before sleeping (default 50)", CountParser.Between("--spin-us", 0, 1_000_000));
        Option<string?> load = LastValueOption.Create<string?>("--load", "idle|busy|busy-all|both",
            "measure on an idle machine, beside a busy loop pinned to the last CPU, beside one on every CPU, or idle then busy (default idle)",
            s => s is "idle" or "busy" or "busy-all" or "both" ? s : throw new UsageException($"--load {s}: expected idle, busy, busy-all or both"));
        Option<string?> dm = LastValueOption.Text("--dm", "NAME|PATH", "the echo device model (default virt-dm-bench)");
        var command = new Command("wakeup", "the round trip of the real exit path (comm page, doorbells, a device model process) with each wake-up option")
        {
            iterations, modes, spin, load, dm,
        };
        command.SetAction((r, _) => WakeupBenchmark.RunAsync(
            r.GetResult(iterations) is null ? 20000 : r.GetValue(iterations),
            // Without --modes the option's value is an empty list, not null: all of them then.
            r.GetResult(modes) is not null && r.GetValue(modes) is { Count: > 0 } chosen ? chosen : [WakeMode.Adaptive, WakeMode.Spin, WakeMode.SpinFutex, WakeMode.Futex, WakeMode.Socket],
            r.GetResult(spin) is null ? 50 : r.GetValue(spin),
            r.GetValue(load) ?? "idle",
            r.GetValue(dm) ?? "virt-dm-bench"));
        return command.WithExamples("virt bench wakeup --iterations 2000 --modes spin,futex");
    }
}
