using System.Runtime.CompilerServices;

namespace Virt.Shared.Abi;

/// <summary>Pointer helpers over a mapped comm region (VCPU n's page at n * VcpuStride).</summary>
public static unsafe class CommPageAccess
{
    public static ref CommPage Page(byte* region, int vcpu) =>
        ref Unsafe.AsRef<CommPage>(region + (long)vcpu * CommPageLayout.VcpuStride);

    /// <summary>The string I/O data page of a VCPU.</summary>
    public static Span<byte> DataPage(byte* region, int vcpu) =>
        new(region + (long)vcpu * CommPageLayout.VcpuStride + CommPageLayout.DataPageOffset, CommPageLayout.PageSize);

    /// <summary>MSR slot i (0-14) of the MSRS area.</summary>
    public static ref MsrSlot Msr(ref CommPage page, int i)
    {
        if ((uint)i >= CommPageLayout.MsrSlots) throw new ArgumentOutOfRangeException(nameof(i));
        return ref Unsafe.As<byte, MsrSlot>(ref Unsafe.Add(ref page.Msrs.Slots[0], i * 16));
    }

    /// <summary>Slot i (0-59) of the OUT batch ring.</summary>
    public static ref OutRingSlot RingSlot(ref CommPage page, int i)
    {
        if ((uint)i >= CommPageLayout.OutRingSlots) throw new ArgumentOutOfRangeException(nameof(i));
        return ref Unsafe.As<byte, OutRingSlot>(ref Unsafe.Add(ref page.OutRing.Slots[0], i * 16));
    }

    /// <summary>Slot i (0-59) of the IN value table.</summary>
    public static ref InTableSlot TableSlot(ref CommPage page, int i)
    {
        if ((uint)i >= CommPageLayout.InTableSlots) throw new ArgumentOutOfRangeException(nameof(i));
        return ref Unsafe.As<byte, InTableSlot>(ref Unsafe.Add(ref page.InTable.Slots[0], i * 16));
    }

    /// <summary>Slot i (0-29) of the RAM write log.</summary>
    public static ref RamWriteSlot RamWrite(ref CommPage page, int i)
    {
        if ((uint)i >= CommPageLayout.RamWriteSlots) throw new ArgumentOutOfRangeException(nameof(i));
        return ref Unsafe.As<byte, RamWriteSlot>(ref Unsafe.Add(ref page.RamWrites.Slots[0], i * 8));
    }

    /// <summary>Initialises a VCPU's page; Magic is written last, with release semantics, so a reader that sees it sees the rest.</summary>
    public static void Initialise(byte* region, int vcpu, int vcpuCount)
    {
        new Span<byte>(region + (long)vcpu * CommPageLayout.VcpuStride, CommPageLayout.VcpuStride).Clear();
        ref CommPage p = ref Page(region, vcpu);
        p.Header.LayoutVersion = CommPageLayout.Version;
        p.Header.PagesPerVcpu = CommPageLayout.PagesPerVcpu;
        p.Header.VcpuIndex = (uint)vcpu;
        p.Header.VcpuCount = (uint)vcpuCount;
        Volatile.Write(ref p.Header.Magic, CommPageLayout.Magic);
    }

    /// <summary>Checks magic, version and geometry; returns an error message or null.</summary>
    public static string? Validate(byte* region, int vcpu)
    {
        ref CommPage p = ref Page(region, vcpu);
        if (Volatile.Read(ref p.Header.Magic) != CommPageLayout.Magic) return $"comm page {vcpu}: bad magic 0x{p.Header.Magic:X8}";
        if (p.Header.LayoutVersion != CommPageLayout.Version) return $"comm page {vcpu}: layout version {p.Header.LayoutVersion}, expected {CommPageLayout.Version}";
        if (p.Header.PagesPerVcpu != CommPageLayout.PagesPerVcpu) return $"comm page {vcpu}: {p.Header.PagesPerVcpu} pages per VCPU, expected {CommPageLayout.PagesPerVcpu}";
        if (p.Header.VcpuIndex != (uint)vcpu) return $"comm page {vcpu}: says it is VCPU {p.Header.VcpuIndex}";
        return null;
    }
}
