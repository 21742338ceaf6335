namespace Virt.Shared.Abi;

/// <summary>
/// A value from the comm page the monitor checked and refused (docs/abi.md, "Who may write what, and
/// what the monitor checks"): a safe value is used instead, and the refusal is counted under its
/// documented name (<see cref="RefusalNames"/>) in the `virt run` report and the `--stats` JSON, and
/// in MonitorCounters.Refused. Code decides on these values; the names are only for people and JSON.
/// </summary>
public enum Refusal
{
    /// <summary>ToMonitor.Seq took a value other than the exit's seq: ignored, the monitor keeps waiting.</summary>
    CompletionSeq,
    /// <summary>A completion Status outside 1-5: treated as Unhandled.</summary>
    Status,
    /// <summary>StopVm / PlatformEvent for an address outside this model's PlatformEvents claims, or an unknown PlatformEvent: completed as Ok.</summary>
    PlatformEvent,
    /// <summary>Reason/Seq/Address/Size/Direction/Flags/Count changed by the device model: the monitor's own values used.</summary>
    ExitRecordChanged,
    /// <summary>Read Data with bits above Size: masked.</summary>
    DataWidth,
    /// <summary>StateWanted with invalid bits: only valid, savable areas filled.</summary>
    StateWanted,
    /// <summary>NeedState more than 4 times, or not negotiated: Unhandled.</summary>
    NeedState,
    /// <summary>StateCommit with invalid bits or areas other than GPRS: the whole commit refused.</summary>
    StateCommit,
    /// <summary>An assisted string commit that is not exactly GPRS with ECX/ESI/EDI as the instruction leaves them: the monitor sets the registers itself.</summary>
    AssistCommit,
    /// <summary>Drained != Pending after an exit that carried batched writes: the ring emptied anyway.</summary>
    RingDrained,
    /// <summary>IN table Count above 60: the table ignored for that IN (a round trip).</summary>
    InTableCount,
    /// <summary>Committed EFLAGS with reserved bits wrong, or a committed EIP other than the one saved: the commit refused.</summary>
    StateValues,
    /// <summary>Irq.Level / Irq.Raised bits above 15: masked.</summary>
    IrqLines,
}
