namespace Virt.Cpu.Paravirt;

/// <summary>What the guest asked of the paravirtual interfaces in a run (for the run report and `virt bench pv`).</summary>
/// <param name="Hypercalls">VMCALLs executed (KVM hypercalls and call-table entries).</param>
/// <param name="PvClockUpdates">Writes of the pvclock page by the monitor.</param>
/// <param name="InlinedHotCalls">Calls to hot call-table entries run at their call site (by the interpreter or by native code).</param>
/// <param name="CallTable">Call-table entries that reached the monitor, by name.</param>
/// <param name="NativeInlinedHotCalls">Of <paramref name="InlinedHotCalls"/>, the ones native code ran.</param>
public sealed record ParavirtStatistics(long Hypercalls, long PvClockUpdates, long InlinedHotCalls, IReadOnlyDictionary<string, long> CallTable,
    long NativeInlinedHotCalls = 0);
