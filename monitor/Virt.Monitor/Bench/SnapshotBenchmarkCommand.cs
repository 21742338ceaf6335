using System.CommandLine;
using Virt.CommandLine;

namespace Virt.Monitor.Bench;

/// <summary>`virt bench snapshot`'s command line.</summary>
public static class SnapshotBenchmarkCommand
{
    public static Command Create()
    {
        Option<string?> kernel = LastValueOption.Text("--kernel", "FILE", "bzImage (default: ~/.cache/virt-guests/vmlinuz, from scripts/fetch-guest.sh)");
        Option<string?> initrd = LastValueOption.Text("--initrd", "FILE", "initramfs that prints the marker and runs a shell on the console (default: initramfs.cpio.gz there)");
        Option<string?> append = LastValueOption.Text("--append", "STRING", $"kernel command line (default: {BootBenchmark.DefaultAppend})");
        Option<int> runs = LastValueOption.Create("--runs", "N", "restores per row, the median is reported (default 3)", CountParser.Between("--runs", 1, 100));
        var noQemu = new Option<bool>("--no-qemu") { Description = "skip the QEMU TCG reference" };
        Option<int> timeout = LastValueOption.Create("--timeout", "SECONDS", "per boot, save or restore (default 300)", CountParser.Between("--timeout", 1, 86_400));
        var command = new Command("snapshot", "Linux saved at its prompt and restored: file, save, time to a running guest and a working shell, beside QEMU TCG; from the process's start, and into a process started and waiting (virt run --incoming; QEMU -incoming defer)")
        {
            kernel, initrd, append, runs, noQemu, timeout,
        };
        command.SetAction((r, _) => SnapshotBenchmark.RunAsync(
            r.GetValue(kernel) ?? Path.Combine(BootBenchmark.GuestCache, "vmlinuz"),
            r.GetValue(initrd) ?? Path.Combine(BootBenchmark.GuestCache, "initramfs.cpio.gz"),
            r.GetValue(append) ?? BootBenchmark.DefaultAppend,
            r.GetResult(runs) is null ? 3 : r.GetValue(runs),
            !r.GetValue(noQemu),
            r.GetResult(timeout) is null ? 300 : r.GetValue(timeout)));
        return command.WithExamples("virt bench snapshot --no-qemu --runs 1");
    }
}
