using System.Text.Json;
using Virt.Pc.Board;

namespace Virt.Pc.Tests.Board;

/// <summary>
/// The board and the device model build without the CPU engine: a device model is a device host, and
/// shipping the translator and its decoder (Virt.Cpu, Iced) with virt-dm would let the two grow into
/// each other unseen (docs/board.md).
/// </summary>
public class BoardDependencyTests
{
    private static readonly string[] CpuAssemblies = ["Virt.Cpu", "Iced"];

    [Fact]
    public void The_board_needs_only_the_devices_and_the_ABI()
    {
        var needs = ReferenceClosure.Of(typeof(PcBoard).Assembly.Location);
        Assert.Contains("Virt.Devices", needs);
        Assert.All(needs.Where(n => n.StartsWith("Virt.", StringComparison.Ordinal)),
            n => Assert.Contains(n, new[] { "Virt.Devices", "Virt.Shared" }));
        Assert.Empty(CpuAssemblies.Intersect(needs));
    }

    [Fact]
    public void Virt_dm_is_built_without_the_CPU_engine()
    {
        // virt-dm is built beside this test (a build-order reference in the project): same
        // configuration and framework, in its own project's bin/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = output.Name, configuration = output.Parent!.Name;
        string dm = Path.Combine(RepoRoot(), "devicemodel", "Virt.DeviceModel", "bin", configuration, framework);

        // The deps.json lists every project and package virt-dm was built with, used or not.
        string depsJson = Path.Combine(dm, "virt-dm.deps.json");
        Assert.True(File.Exists(depsJson), $"no {depsJson}: build virt-dm ({configuration})");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsJson));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name.Split('/')[0]).ToList();
        Assert.Contains("Virt.Pc.Board", libraries);
        Assert.Empty(CpuAssemblies.Intersect(libraries));

        // And what its code actually references.
        var needs = ReferenceClosure.Of(Path.Combine(dm, "virt-dm.dll"));
        Assert.Contains("Virt.Pc.Board", needs);
        Assert.Empty(CpuAssemblies.Intersect(needs));
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Virt.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"the repository (Virt.sln) is not above {AppContext.BaseDirectory}");
    }
}
