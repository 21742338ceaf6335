namespace Virt.Cpu.Firmware;

/// <summary>
/// What reflection to firmware did in a run: accesses reflected (each an entry into the handler and one
/// RSM), the instructions the handlers ran (RSM included), the calls they made to the monitor, and
/// the failure that turned reflection off (null while it works).
/// </summary>
public sealed record FirmwareStatistics(long Reflections, long HandlerInstructions, long MonitorCalls, FirmwareFailure? Failure);
