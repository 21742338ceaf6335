using System.Globalization;
using System.Text.Json;

namespace Virt.Monitor.Bench;

/// <summary>
/// What a run with COM1 in the guest's firmware (--place com1=firmware) did there, from its --stats:
/// accesses reflected to the handler, the instructions the handler ran for them (RSM included) and
/// its calls to the monitor (batched console output, IRQ changes). Null for a run without firmware.
/// </summary>
public sealed record FirmwareFigures(long Reflections, long HandlerInstructions, long MonitorCalls, string? Failure)
{
    public static FirmwareFigures? Read(JsonElement stats) =>
        stats.TryGetProperty("firmware", out JsonElement f)
            ? new FirmwareFigures(f.GetProperty("reflections").GetInt64(), f.GetProperty("handlerInstructions").GetInt64(),
                f.GetProperty("monitorCalls").GetInt64(), f.GetProperty("failure").ValueKind == JsonValueKind.String ? f.GetProperty("failure").GetString() : null)
            : null;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"reflections {Reflections:N0}, handler instructions {HandlerInstructions:N0} ({(Reflections == 0 ? 0 : (double)HandlerInstructions / Reflections):F0} per access), calls to the monitor {MonitorCalls:N0}")
        + (Failure is null ? "" : $", ABANDONED ({Failure})");
}
