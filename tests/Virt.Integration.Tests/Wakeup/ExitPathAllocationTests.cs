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
}
