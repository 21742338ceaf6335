namespace Virt.Monitor.Cli;

/// <summary>`virt run`.</summary>
public static class RunCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        Console.Error.WriteLine("virt run: waiting for the CPU core");
        return Task.FromResult(ExitStatus.BadUsage);
    }
}
