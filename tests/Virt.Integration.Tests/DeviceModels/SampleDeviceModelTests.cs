using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>
/// The minimal C# device model of docs/device-models.md (samples/EchoDeviceModel, built on the
/// device-model kit alone) attaches to a real monitor and serves its port; and the page shows
/// exactly the code the build compiles.
/// </summary>
public class SampleDeviceModelTests
{
    [Fact]
    public async Task The_sample_device_model_from_the_docs_attaches_and_serves_a_port()
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.PythonEcho());
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "virt-dm", "--dm", TestDeviceModels.Spec("echo-dm")]);
        int status = await run.WaitAsync();
        // Ids follow the order of the Hellos, which the two processes race for.
        // The guest wrote 0x41, read back 0x42 from the sample, and wrote that to the exit port: (0x42 << 1) | 1.
        Assert.True(status == 0x85, $"status {status}\n{run.Describe()}");
        Assert.True(Regex.IsMatch(run.Stderr, @"device model \d 'cs-echo'.*attached: cs-echo ports 0x510-0x510"), $"{run.Stderr}\n{run.Describe()}");
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public void The_docs_show_the_sample_as_it_is_compiled()
    {
        string root = RepositoryRoot();
        string code = File.ReadAllText(Path.Combine(root, "samples", "EchoDeviceModel", "Program.cs")).ReplaceLineEndings("\n");
        string page = File.ReadAllText(Path.Combine(root, "docs", "device-models.md")).ReplaceLineEndings("\n");
        Assert.Contains("```csharp\n" + code + "```", page);
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "samples", "EchoDeviceModel", "Program.cs"))) return d.FullName;
        throw new FileNotFoundException("samples/EchoDeviceModel/Program.cs not found above " + AppContext.BaseDirectory);
    }
}
