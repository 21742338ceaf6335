using System.CommandLine;
using Virt.CommandLine;
using Virt.Monitor.Plot;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench io`'s command line.</summary>
public static class IoBenchmarkCommand
{
    public static Command Create()
    {
        Option<int> scale = LastValueOption.Create("--scale", "N", "workload size (default 1)", CountParser.Between("--scale", 1, 1000));
        Option<int> repeat = LastValueOption.Create("--repeat", "N", "runs per mode, the median wall time is reported (default 3)", CountParser.Between("--repeat", 1, 1000));
        Option<HashSet<string>?> workloads = LastValueOption.Create<HashSet<string>?>("--workloads", "LIST",
            "the workloads, from serial,rtc,status-poll,rep-insw,mmio (default all)", s => [.. s.Split(',')]);
        Option<string?> dm = LastValueOption.Text("--dm", "SPEC", $"the device model (default \"{IoBenchmark.DefaultDeviceModel}\": the PC and the I/O test device)");
        Option<WakeMode?> wake = LastValueOption.Create<WakeMode?>("--wakeup", "adaptive|spin|spin-futex|futex", "how monitor and device model wake each other (default: virt run's)",
            s => WakeupBenchmark.ParseMode(s) is var m && m != WakeMode.Socket ? m : throw new UsageException("--wakeup socket: only virt bench wakeup has it"));
        Option<string?> json = LastValueOption.Text("--json", "FILE", "also write the results as JSON");
        Option<string?> chart = LastValueOption.Create<string?>("--chart", "FILE.png|FILE.svg", "also draw round trips and wall time of every mode, side by side per workload",
            s => { ChartFile.FormatOf(s); return s; });
        var placements = new Option<bool>("--placements")
        {
            Description = "instead of the modes, one row per placement of the UART: device model naive, device model batched, monitor (docs/placements.md); the serial workload unless --workloads says",
        };
        var command = new Command("io", "I/O workloads in every --io / --state mode, side by side") { scale, repeat, workloads, dm, wake, json, chart, placements };
        command.SetAction((r, _) => IoBenchmark.RunAsync(
            r.GetResult(scale) is null ? 1 : r.GetValue(scale),
            r.GetResult(repeat) is null ? 3 : r.GetValue(repeat),
            r.GetValue(dm) ?? IoBenchmark.DefaultDeviceModel,
            r.GetValue(json),
            r.GetValue(chart),
            r.GetValue(workloads),
            r.GetValue(wake),
            r.GetValue(placements)));
        return command.WithExamples(
            "virt bench io --workloads rtc --repeat 1 --json io.json --chart io.svg",
            "virt bench io --placements --repeat 1");
    }
}
