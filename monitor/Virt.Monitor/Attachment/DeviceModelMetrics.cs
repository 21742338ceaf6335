using Virt.Shared.Control;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The devices' counters of every attached device model, asked for at once (MetricsRequest,
/// docs/control-protocol.md) and awaited for at most one timeout: a model that does not answer
/// (an older protocol, a model that ignores the request, a hung one) is simply absent.
/// </summary>
public static class DeviceModelMetrics
{
    public static async Task<List<(DeviceModelAttachment Model, IReadOnlyList<CounterValue> Counters)>> CollectAsync(
        IEnumerable<DeviceModelAttachment> models, TimeSpan timeout)
    {
        var asked = models.OrderBy(m => m.Id).Select(m => (Model: m, Answer: m.RequestMetricsAsync(timeout))).ToList();
        var answered = new List<(DeviceModelAttachment, IReadOnlyList<CounterValue>)>();
        foreach (var (model, answer) in asked)
            if (await answer is { } counters) answered.Add((model, counters));
        return answered;
    }
}
