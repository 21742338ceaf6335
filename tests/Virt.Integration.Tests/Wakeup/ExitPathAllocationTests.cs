using System.Text.Json;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Bench;
using Virt.Shared.Wakeup;

namespace Virt.Integration.Tests.Wakeup;

/// <summary>
/// The exit path allocates nothing once warm, in either process (docs/wakeup.md): the real path of
/// `virt bench wakeup` (comm page, doorbells, a virt-dm-bench process serving every exit), counted
/// with GC.GetAllocatedBytesForCurrentThread on both exit threads. Allocation counts are exact,
/// unlike time, so the assertion is exact.
/// </summary>
public class ExitPathAllocationTests
{
    [Theory]
    [InlineData(WakeMode.Adaptive)]
    [InlineData(WakeMode.Futex)]
    public async Task A_round_trip_allocates_nothing_on_either_side(WakeMode mode)
    {
        const int roundTrips = 20_000;
        WakeupBenchmark.Result r = await WakeupBenchmark.MeasureAsync(mode, 50, roundTrips, "virt-dm-bench", loaded: false);

        Assert.Equal(roundTrips, r.RoundTrips);
        Assert.Equal(0, r.MonitorAllocated);
        Assert.True(r.DeviceModelAllocated is not null, "the device model reported no runtime counters");
        var (bytes, exits) = r.DeviceModelAllocated.Value;
        Assert.Equal(roundTrips, exits);
        Assert.Equal(0, bytes);
    }

    /// <summary>
    /// virt-dm's PC devices: every byte the guest prints is a synchronous write to the UART (`--io naive`),
    /// after which virt-dm snapshots its stateful devices for a replacement (docs/abi.md "Crash state").
    /// What its exit thread allocates must not grow with the exits: a guest that prints ten times as much
    /// leaves the same count, give or take a few one-time objects of the first exits.
    /// </summary>
    [Fact]
    public async Task Virt_dm_allocates_nothing_per_exit_once_warm()
    {
        var (shortExits, shortBytes) = await DeviceModelExitThreadAsync(new string('s', 40));
        var (longExits, longBytes) = await DeviceModelExitThreadAsync(new string('l', 400));
        Assert.True(longExits > shortExits + 700, $"exits {shortExits} then {longExits}");
        // Per exit nothing: 700 more exits allocating even one object each (24 bytes at least) would add 16,800 bytes.
        // The one-time allocations of the first exits vary by a few objects from run to run (144 or 192 bytes seen),
        // so the bound is a few objects, not equality.
        Assert.True(longBytes <= shortBytes + 256, $"the exit thread allocated {shortBytes} bytes over {shortExits} exits, then {longBytes} over {longExits}");
    }

    private static async Task<(long Exits, long Bytes)> DeviceModelExitThreadAsync(string text)
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit(text + "\r\n", 3));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", stats, "--io", "naive"]);
        int status = await run.WaitAsync();
        Assert.True(status == 7, $"status {status}\n{run.Describe()}");
        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement runtime = json.RootElement.GetProperty("devices").GetProperty("runtime");
        return (runtime.GetProperty("exits_served").GetInt64(), runtime.GetProperty("exit_thread_bytes").GetInt64());
    }
}
