using System.CommandLine;
using Virt.CommandLine;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench pv`'s command line.</summary>
public static class ParavirtBenchmarkCommand
{
    public static Command Create()
    {
        Option<int> iters = LastValueOption.Create("--iters", "N", "workload iterations (default 200000)", CountParser.Between("--iters", 1, int.MaxValue));
        Option<int> ticks = LastValueOption.Create("--ticks", "N", "timer ticks (1 kHz) to wait for at the end (default 20)", CountParser.Between("--ticks", 1, int.MaxValue));
        Option<int> every = LastValueOption.Create("--every", "N", "a console line every N iterations (default 1000)", CountParser.Between("--every", 1, int.MaxValue));
        Option<int> runs = LastValueOption.Create("--runs", "N", "runs per row, the median wall time is reported (default 1)", CountParser.Between("--runs", 1, 100));
        Option<string?> engine = LastValueOption.Create<string?>("--cpu-engine", "native|interp", "the CPU engine (default native)",
            s => Virt.Cpu.Cpu.ParseEngine(s) is not null ? s.ToLowerInvariant() : throw new UsageException(Virt.Cpu.Cpu.UnknownEngineMessage(s)));
        var command = new Command("pv", "a C guest's hot operations as native instructions and through the call table") { iters, ticks, every, runs, engine };
        command.SetAction((r, _) => ParavirtBenchmark.RunAsync(
            r.GetResult(iters) is null ? 200_000u : (uint)r.GetValue(iters),
            r.GetResult(ticks) is null ? 20u : (uint)r.GetValue(ticks),
            r.GetResult(every) is null ? 1000u : (uint)r.GetValue(every),
            r.GetResult(runs) is null ? 1 : r.GetValue(runs),
            r.GetValue(engine) ?? "native"));
        return command.WithExamples("virt bench pv --iters 2000 --ticks 2");
    }
}
