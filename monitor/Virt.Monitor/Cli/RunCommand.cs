using Virt.Monitor.Vm;


namespace Virt.Monitor.Cli;

/// <summary>`virt run`: parse, check the images, run the VM, report.</summary>
public static class RunCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        RunOptions options;
        try
        {
            options = RunOptions.Parse(args);
        }
        catch (RunOptions.HelpRequested help)
        {
            Console.Out.WriteLine(help.Text);
            return 0;
        }
        GuestImages images;
        try
        {
            images = GuestImages.Read(options);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"virt: {e.Message}");
            return ExitStatus.BadUsage;
        }
        return await VirtualMachine.RunAsync(options, images);
    }
}
