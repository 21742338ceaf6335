using System.Text.Json;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Bench;

namespace Virt.Integration.Tests.Io;

/// <summary>
/// A hostile device model (tests/Virt.HostileDeviceModel, virt-dm-hostile --hostile) against the batched path: it lies about draining the
/// ring, publishes an IN table with more slots than exist, and commits a wrong ECX after assisted
/// string I/O. The monitor refuses and counts each, completes the string instruction itself, and
/// the guests still finish with the right results.
/// </summary>
public class HostileBatchingTests
{
    private static async Task<JsonElement> RunHostileAsync(byte[] image, int? expectedStatus)
    {
        string kernel = TempDir.WriteImage(image);
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats, "--serial", "none",
            "--dm", TestDeviceModels.Spec("virt-dm-hostile", "--hostile", "--serial", "none", "--io-test")]);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(120));
        // Without an expected status: any exit through the exit port (odd) means the guest finished.
        Assert.True(expectedStatus is { } e ? status == e : (status & 1) == 1, $"status {status}, expected {expectedStatus?.ToString() ?? "odd"}\n{run.Describe()}");
        Assert.Empty(run.LeftoverVmDirectories());
        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        return json.RootElement.GetProperty("refused").Clone();
    }

    [Fact]
    public async Task Lies_about_the_ring_the_table_and_assisted_commits_are_refused()
    {
        // Status polls: batched commands, cached status reads, many exits of every kind.
        var refused = await RunHostileAsync(IoWorkloads.StatusPoll(300, 3), Virt.Monitor.Cli.ExitStatus.FromExitPort(0));
        foreach (string kind in new[] { "ring-drained", "in-table-count" })
            Assert.True(refused.TryGetProperty(kind, out var n) && n.GetInt64() > 0, $"no '{kind}' refusal: {refused}");

        // REP INSW: 8 assisted chunks per transfer. The registers must stay right (the loops end and the
        // guest exits); the data need not: a device model that asks for state after serving an exit
        // serves it twice, which is its own device's side effect, not something the monitor can undo.
        refused = await RunHostileAsync(IoWorkloads.RepInsw(4, 16384), null);
        Assert.True(refused.TryGetProperty("assist-commit", out var a) && a.GetInt64() > 0, $"no 'assist-commit' refusal: {refused}");
    }
}
