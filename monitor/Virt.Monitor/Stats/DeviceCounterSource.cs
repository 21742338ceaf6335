using Virt.Devices.Bus;
using Virt.Devices.Metrics;
using Virt.Monitor.Attachment;

namespace Virt.Monitor.Stats;

/// <summary>
/// The devices' own counters: the monitor's (read in place: plain 64-bit counters, so a read while
/// the VCPU runs sees an old or a new value) and each attached device model's (MetricsRequest, all at
/// once, bounded by a timeout). The end-of-run report and `virt top` both ask through here, one at a
/// time: a model has one MetricsRequest outstanding (DeviceModelAttachment), so two at once would
/// take each other's answer.
/// </summary>
public sealed class DeviceCounterSource(IEnumerable<IDevice> monitorDevices, AttachmentManager manager)
{
    private readonly SemaphoreSlim _one = new(1, 1);

    public async Task<DeviceCounterTable> CollectAsync(TimeSpan timeout)
    {
        await _one.WaitAsync();
        try
        {
            var table = new DeviceCounterTable();
            foreach (var (device, counters) in DeviceMetricsSnapshot.Of(monitorDevices))
                table.Add(device, null, "monitor", counters.Select(c => (c.Name, c.Value)));
            foreach (var (model, counters) in await DeviceModelMetrics.CollectAsync(manager.All, timeout))
                table.AddReport(model.Id, $"device model {model.Id} '{model.Name}'", counters);
            return table;
        }
        finally
        {
            _one.Release();
        }
    }
}
