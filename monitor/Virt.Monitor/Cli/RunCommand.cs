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
        if (options.Restore is { } path)
        {
            // Every check of the file but RAM's checksum (which the copy makes) runs here, before anything is created.
            Snapshot.SnapshotFile snapshot;
            try { snapshot = Snapshot.SnapshotFile.Open(path, options.MemoryGiven ? options.MemoryBytes : null); }
            catch (Snapshot.SnapshotException e)
            {
                Console.Error.WriteLine($"virt: {e.Message}");
                return ExitStatus.BadUsage;
            }
            using (snapshot)
                return await VirtualMachine.RunAsync(options with { MemoryBytes = snapshot.RamSize }, new GuestImages(null, "", [], null), snapshot);
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
