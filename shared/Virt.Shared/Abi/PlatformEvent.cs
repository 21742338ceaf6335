namespace Virt.Shared.Abi;

/// <summary>
/// The StatusArg of a <see cref="CompletionStatus.PlatformEvent"/> completion: something a device
/// in the device model did that only the monitor can carry out, effective before the guest's next
/// instruction (the exit that caused it is complete, its read data valid).
/// </summary>
public enum PlatformEvent : uint
{
    /// <summary>A system reset: the i8042's reset pulse (command 0xFE or output port bit 0) or 0xCF9. The monitor ends the run (a reboot).</summary>
    Reset = 1,
    /// <summary>The i8042 output port turned the A20 gate on.</summary>
    A20On = 2,
    /// <summary>The i8042 output port turned the A20 gate off (addresses wrap at 1 MiB).</summary>
    A20Off = 3,
}
