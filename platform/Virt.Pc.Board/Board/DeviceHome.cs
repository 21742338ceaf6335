namespace Virt.Pc.Board;

/// <summary>Which process hosts a board device when the PC runs split (docs/board.md).</summary>
public enum DeviceHome
{
    /// <summary>In the monitor, on the VCPU thread, as KVM keeps the PIC, PIT and APICs in the kernel: every access is on the interrupt path.</summary>
    Monitor,

    /// <summary>In a device model process (virt-dm), reached through the comm page.</summary>
    DeviceModel,
}
