using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// One VCPU's comm page: 4 KiB shared by the monitor and the device model, read and written in
/// place through a pointer (never copied). Every offset is pinned by CommPageLayoutTests and
/// documented in docs/abi.md. Page 1 of each VCPU (not part of this struct) is the string I/O data page.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = CommPageLayout.PageSize)]
public struct CommPage
{
    [FieldOffset(0x000)] public CommHeader Header;
    /// <summary>Monitor to device model: "an exit is published" (Seq = exit sequence number).</summary>
    [FieldOffset(0x040)] public DoorbellWords ToDevice;
    /// <summary>Device model to monitor: "exit Seq is complete".</summary>
    [FieldOffset(0x080)] public DoorbellWords ToMonitor;
    [FieldOffset(0x0C0)] public IrqWords Irq;
    [FieldOffset(0x100)] public ExitRecord Exit;
    [FieldOffset(0x140)] public MonitorCounters MonitorCounters;
    [FieldOffset(0x180)] public DeviceModelCounters DeviceCounters;
    [FieldOffset(0x1C0)] public GprArea Gprs;
    [FieldOffset(0x200)] public SegsArea Segs;
    [FieldOffset(0x300)] public CrArea Crs;
    [FieldOffset(0x340)] public DrArea Drs;
    [FieldOffset(0x380)] public MsrArea Msrs;
    [FieldOffset(0x480)] public IntrArea Intr;
    [FieldOffset(0x500)] public FpuArea Fpu;
    [FieldOffset(0x700)] public OutBatchRing OutRing;
    [FieldOffset(0xB00)] public InValueTable InTable;
    [FieldOffset(0xF00)] public RamWriteLog RamWrites;
}
