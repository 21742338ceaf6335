using System.CommandLine;
using Virt.CommandLine;
using Virt.Monitor.Plot;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench boot`'s command line.</summary>
public static class BootBenchmarkCommand
{
    public static Command Create()
    {
        Option<string?> kernel = LastValueOption.Text("--kernel", "FILE", "bzImage (default: ~/.cache/virt-guests/vmlinuz, from scripts/fetch-guest.sh)");
        Option<string?> initrd = LastValueOption.Text("--initrd", "FILE", "initramfs that prints the marker and powers off (default: initramfs-smoke.cpio.gz there)");
        Option<string?> append = LastValueOption.Text("--append", "STRING", $"kernel command line (default: {BootBenchmark.DefaultAppend})");
        var rows = new Option<string[]>("--row")
        {
            Description = "a virt row with these extra `virt run` arguments (repeatable; default: one row per --cpu-engine: native, interp)",
            HelpName = "NAME=ARGS",
            AllowMultipleArgumentsPerToken = false,
        };
        var pvRows = new Option<bool>("--pv-rows") { Description = "also paravirtual on and off (--cpu i686,+pv / --cpu i686,-pv, native engine), with their exits by reason" };
        var ioRows = new Option<bool>("--io-rows") { Description = "also the four --io naive|batched x --state naive|cached rows (native engine)" };
        var placementRows = new Option<bool>("--placement-rows")
        {
            Description = "also one row per placement of the UART (native engine): com1 in the device model with --io naive, with --io batched, and in the monitor (--place com1=monitor; docs/placements.md)",
        };
        Option<int> runs = LastValueOption.Create("--runs", "N", "runs per row, the median is reported (default 1)", CountParser.Between("--runs", 1, 100));
        var noQemu = new Option<bool>("--no-qemu") { Description = "skip the QEMU TCG reference" };
        Option<int> timeout = LastValueOption.Create("--timeout", "SECONDS", "per boot (default 900)", CountParser.Between("--timeout", 1, 86_400));
        Option<string?> chart = LastValueOption.Create<string?>("--chart", "FILE.png|FILE.svg", "also draw the rows side by side: time to the marker and peak memory",
            s => { ChartFile.FormatOf(s); return s; });
        var command = new Command("boot", "Linux boot to the marker: virt rows beside QEMU TCG (time, memory, exits)")
        {
            kernel, initrd, append, rows, pvRows, ioRows, placementRows, runs, noQemu, timeout, chart,
        };
        command.SetAction((r, _) => BootBenchmark.RunAsync(
            r.GetValue(kernel) ?? Path.Combine(BootBenchmark.GuestCache, "vmlinuz"),
            r.GetValue(initrd) ?? Path.Combine(BootBenchmark.GuestCache, "initramfs-smoke.cpio.gz"),
            r.GetValue(append) ?? BootBenchmark.DefaultAppend,
            [.. (r.GetValue(rows) ?? []).Select(BootBenchmark.ParseRow)],
            r.GetResult(runs) is null ? 1 : r.GetValue(runs),
            r.GetResult(timeout) is null ? 900 : r.GetValue(timeout),
            !r.GetValue(noQemu), r.GetValue(ioRows), r.GetValue(pvRows), r.GetValue(chart), r.GetValue(placementRows)));
        return command.WithExamples("virt bench boot --no-qemu --row \"native=--cpu-engine native\" --timeout 300");
    }
}
