namespace Virt.Monitor.Cli;

/// <summary>
/// Where a device runs in one run (`virt run --place DEV=dm|monitor|firmware`, docs/placements.md):
/// the three places an I/O request can be served, from the longest path to the shortest.
/// </summary>
public enum Placement
{
    /// <summary>In a device model process, reached through the comm page (the board's default for COM1).</summary>
    DeviceModel,

    /// <summary>In the monitor, on the VCPU thread, served at the exit as the PIC and PIT are (no round trip).</summary>
    Monitor,

    /// <summary>In the guest's own firmware, which the monitor reflects the access to (the Xen "self IO emulator" idea).</summary>
    Firmware,
}
