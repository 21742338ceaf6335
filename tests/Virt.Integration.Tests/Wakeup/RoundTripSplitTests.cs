using System.Text.Json;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Wakeup;

/// <summary>
/// Where a round trip's time goes (docs/wakeup.md): virt-dm stamps the exits the monitor asks it to
/// (ExitRecord.SeenAt, CompletedAt), the monitor splits those round trips with the stamps, and both
/// processes report their runtime's costs. A real run of a real guest through the two processes.
/// </summary>
public class RoundTripSplitTests
{
    [Fact]
    public async Task The_sampled_round_trips_are_split_and_both_processes_report_their_runtime()
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("split, byte by byte\r\n", 3));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", stats, "--io", "naive"]);
        int status = await run.WaitAsync();
        Assert.True(status == 7, $"status {status}\n{run.Describe()}");

        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement trips = json.RootElement.GetProperty("roundTrips");
        long count = trips.GetProperty("count").GetInt64();
        Assert.True(count > 20, $"round trips {count}");
        // One round trip in StampInterval asks for the stamps, and virt-dm gives them every time.
        Assert.Equal(count / Virt.Monitor.Transport.DeviceModelPort.StampInterval, trips.GetProperty("stamped").GetInt64());
        foreach (string part in new[] { "toDeviceModel", "service", "back" })
        {
            JsonElement p = trips.GetProperty(part);
            Assert.True(p.GetProperty("p50Micros").GetDouble() <= p.GetProperty("p99Micros").GetDouble(), p.ToString());
        }

        JsonElement monitor = json.RootElement.GetProperty("monitorRuntime");
        Assert.True(monitor.GetProperty("allocatedBytes").GetInt64() > 0);
        Assert.True(monitor.GetProperty("roundTripsSpanningGc").GetInt64() <= count);
        // virt-dm's runtime counters come with its devices' (MetricsReport): it served every round trip.
        JsonElement dm = json.RootElement.GetProperty("devices").GetProperty("runtime");
        Assert.Equal(count, dm.GetProperty("exits_served").GetInt64());
        Assert.True(dm.GetProperty("allocated_bytes").GetInt64() > 0, dm.ToString());
        Assert.True(dm.TryGetProperty("gc_pause_us", out _), dm.ToString());

        Assert.Matches(@"\nround trip split \(\d[\d,]* sampled, stamped by the device model\), p50/p90/p99 us: to the device model [\d.]+/[\d.]+/[\d.]+; service ", run.Stderr);
        Assert.Contains("\nmonitor runtime: gc collections ", run.Stderr);
    }
}
