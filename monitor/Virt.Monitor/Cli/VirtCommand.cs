using Virt.Monitor.Bench;
using Virt.Monitor.Plot;
using Virt.Monitor.Top;

namespace Virt.Monitor.Cli;

/// <summary>Top-level command dispatch: `virt run ...`, `virt bench wakeup ...`.</summary>
public static class VirtCommand
{
    public const string Usage = """
        usage: virt run [options]            run a guest (virt run --help)
               virt bench wakeup [options]   measure the monitor/device-model round trip
               virt bench boot [options]     Linux boot to the marker: virt rows beside QEMU TCG (time, memory, exits)
               virt list                     running VMs and their device models
               virt attach VM --dm NAME|PATH [--replace DM]
               virt detach VM DM
               virt top [VM] [options]       a live view of a running VM: exits, round trips, devices (virt top --help)
               virt plot F.json -o F.png|F.svg   draw a --stats timeline: exits and round trips over time
               virt save VM FILE [--and-stop]   snapshot a running VM; virt run --restore FILE resumes it
               virt bench io [options]       I/O workloads in every --io / --state mode, side by side
               virt bench pv [options]       a C guest's hot operations as native instructions and through the call table
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        try
        {
            return args switch
            {
                ["run", .. var rest] => await RunCommand.RunAsync(rest),
                ["bench", "wakeup", .. var rest] => await WakeupBenchmark.RunAsync(rest),
                ["bench", "boot", .. var rest] => await BootBenchmark.RunAsync(rest),
                ["list"] => await ManageCommands.ListAsync(),
                ["attach", .. var rest] => await ManageCommands.AttachAsync(rest),
                ["detach", .. var rest] => await ManageCommands.DetachAsync(rest),
                ["top", .. var rest] => await TopCommand.RunAsync(rest),
                ["plot", .. var rest] => PlotCommand.Run(rest),
                ["save", .. var rest] => await ManageCommands.SaveAsync(rest),
                ["bench", "io", .. var rest] => await IoBenchmark.RunAsync(rest),
                ["bench", "pv", .. var rest] => await ParavirtBenchmark.RunAsync(rest),
                ["-h" or "--help"] => Help(0),
                _ => Help(2),
            };
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"virt: {e.Message}");
            return ExitStatus.BadUsage;
        }
        catch (Exception e)
        {
            // The last line of defence: a bug is reported as one line and status 8, never as a .NET stack trace
            // (VIRT_DEBUG=1 shows it for a developer).
            Console.Error.WriteLine($"virt: internal error: {ExitStatus.Describe(e)}");
            return ExitStatus.InternalError;
        }
    }

    private static int Help(int status)
    {
        (status == 0 ? Console.Out : Console.Error).WriteLine(Usage);
        return status;
    }
}
