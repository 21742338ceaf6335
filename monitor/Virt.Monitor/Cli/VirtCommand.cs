using System.CommandLine;
using Virt.CommandLine;
using Virt.Monitor.Bench;
using Virt.Monitor.Plot;
using Virt.Monitor.Top;

namespace Virt.Monitor.Cli;

/// <summary>virt's command tree (`virt run ...`, `virt bench wakeup ...`) and its Main: bad usage is one line and status 2.</summary>
public static class VirtCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("virt: a split virtual machine monitor for x86 guests; its device models run as processes of their own (docs/architecture.md)")
        {
            RunCommand.Create(),
            ManageCommands.List(),
            ManageCommands.Attach(),
            ManageCommands.Detach(),
            ManageCommands.Save(),
            ManageCommands.Restore(),
            TopCommand.Create(),
            PlotCommand.Create(),
            BenchCommand.Create(),
        };
        return root.WithExamples("virt run --demo", "virt run --help");
    }

    public static async Task<int> MainAsync(string[] args)
    {
        try
        {
            return await CommandLineProgram.InvokeAsync(Create(), args);
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
}
