using System.Text.Json;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Io;

/// <summary>
/// Runs a guest image with the real virt and a device model process in a given --io / --state mode and
/// collects what it did: virt-dm-bench --io-test (virt-dm's PC plus the I/O test device, as `virt bench io`
/// runs it) or, without the test device, virt-dm.
/// </summary>
public static class IoRuns
{
    public static readonly (string Io, string State)[] AllModes = [("naive", "naive"), ("naive", "cached"), ("batched", "naive"), ("batched", "cached")];

    public sealed record Outcome(int Status, string Serial, JsonElement Stats, string Describe)
    {
        public long Count(string property) => Stats.GetProperty(property).GetInt64();
        public long Flushes(string reason) => Stats.GetProperty("flushes").TryGetProperty(reason, out var v) ? v.GetInt64() : 0;
        public long Cached(string what) => Stats.GetProperty("cachedReads").GetProperty(what).GetInt64();
    }

    public static async Task<Outcome> RunAsync(byte[] image, string io, string state, bool testDevices = true, params string[] extra)
    {
        string kernel = TempDir.WriteImage(image);
        string dir = Path.GetDirectoryName(kernel)!;
        string stats = Path.Combine(dir, "stats.json"), serial = Path.Combine(dir, "com1.out");
        var args = new List<string> { "run", "--kernel", kernel, "-m", "16M", "--io", io, "--state", state, "--stats", stats, "--serial", "file:" + serial, "-q" };
        // --serial reaches virt-dm by itself; a model named by path is told where COM1 goes.
        if (testDevices) args.AddRange(["--dm", TestDeviceModels.Spec("virt-dm-bench", "--io-test", "--serial", "file:" + serial)]);
        args.AddRange(extra);
        using var run = VirtRun.Start(args);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Empty(run.LeftoverVmDirectories());
        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        return new Outcome(status, File.Exists(serial) ? File.ReadAllText(serial, System.Text.Encoding.Latin1) : "", doc.RootElement.Clone(), run.Describe());
    }
}
