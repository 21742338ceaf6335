using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Virt.Shared.Abi;

namespace Virt.Integration.Tests;

/// <summary>Pins every comm page offset to the values in docs/abi.md: a layout change fails here first.</summary>
public class CommPageLayoutTests
{
    private static int Off<T>(string field) where T : struct => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void Sizes_are_fixed()
    {
        Assert.Equal(4096, Unsafe.SizeOf<CommPage>());
        Assert.Equal(4096, Marshal.SizeOf<CommPage>());
        Assert.Equal(64, Unsafe.SizeOf<CommHeader>());
        Assert.Equal(64, Unsafe.SizeOf<DoorbellWords>());
        Assert.Equal(64, Unsafe.SizeOf<IrqWords>());
        Assert.Equal(64, Unsafe.SizeOf<ExitRecord>());
        Assert.Equal(64, Unsafe.SizeOf<GprArea>());
        Assert.Equal(256, Unsafe.SizeOf<SegsArea>());
        Assert.Equal(16, Unsafe.SizeOf<SegmentArea>());
        Assert.Equal(256, Unsafe.SizeOf<MsrArea>());
        Assert.Equal(512, Unsafe.SizeOf<FpuArea>());
        Assert.Equal(1024, Unsafe.SizeOf<OutBatchRing>());
        Assert.Equal(1024, Unsafe.SizeOf<InValueTable>());
        Assert.Equal(16, Unsafe.SizeOf<OutRingSlot>());
        Assert.Equal(16, Unsafe.SizeOf<InTableSlot>());
        Assert.Equal(256, Unsafe.SizeOf<RamWriteLog>());
        Assert.Equal(8, Unsafe.SizeOf<RamWriteSlot>());
        Assert.Equal(8192, CommPageLayout.VcpuStride);
    }

    [Theory]
    [InlineData("Header", 0x000)]
    [InlineData("ToDevice", 0x040)]
    [InlineData("ToMonitor", 0x080)]
    [InlineData("Irq", 0x0C0)]
    [InlineData("Exit", 0x100)]
    [InlineData("MonitorCounters", 0x140)]
    [InlineData("DeviceCounters", 0x180)]
    [InlineData("Gprs", 0x1C0)]
    [InlineData("Segs", 0x200)]
    [InlineData("Crs", 0x300)]
    [InlineData("Drs", 0x340)]
    [InlineData("Msrs", 0x380)]
    [InlineData("Intr", 0x480)]
    [InlineData("Fpu", 0x500)]
    [InlineData("OutRing", 0x700)]
    [InlineData("InTable", 0xB00)]
    [InlineData("RamWrites", 0xF00)]
    public void Areas_sit_at_their_documented_offsets(string area, int offset) => Assert.Equal(offset, Off<CommPage>(area));

    [Fact]
    public void Header_fields()
    {
        Assert.Equal(0x00, Off<CommHeader>("Magic"));
        Assert.Equal(0x04, Off<CommHeader>("LayoutVersion"));
        Assert.Equal(0x06, Off<CommHeader>("PagesPerVcpu"));
        Assert.Equal(0x08, Off<CommHeader>("VcpuIndex"));
        Assert.Equal(0x0C, Off<CommHeader>("VcpuCount"));
        Assert.Equal(0x10, Off<CommHeader>("StateWanted"));
        Assert.Equal(0x14, Off<CommHeader>("StateCached"));
        Assert.Equal(0x18, Off<CommHeader>("StateCommit"));
        Assert.Equal(0x1C, Off<CommHeader>("SpeculativeState"));
        Assert.Equal(0x4D4D4F43u, CommPageLayout.Magic);
        Assert.Equal(2, CommPageLayout.Version);
    }

    [Fact]
    public void Doorbell_irq_and_exit_fields()
    {
        Assert.Equal(0x00, Off<DoorbellWords>("Seq"));
        Assert.Equal(0x04, Off<DoorbellWords>("Sleeping"));
        Assert.Equal(0x08, Off<DoorbellWords>("RunningCpu"));
        Assert.Equal(0x00, Off<IrqWords>("Level"));
        Assert.Equal(0x04, Off<IrqWords>("Raised"));
        Assert.Equal(0x08, Off<IrqWords>("Seq"));
        Assert.Equal(0x0C, Off<IrqWords>("MonitorIdle"));
        Assert.Equal(0x00, Off<ExitRecord>("Reason"));
        Assert.Equal(0x04, Off<ExitRecord>("Seq"));
        Assert.Equal(0x08, Off<ExitRecord>("Address"));
        Assert.Equal(0x10, Off<ExitRecord>("Size"));
        Assert.Equal(0x11, Off<ExitRecord>("Direction"));
        Assert.Equal(0x12, Off<ExitRecord>("Flags"));
        Assert.Equal(0x13, Off<ExitRecord>("Segment"));
        Assert.Equal(0x14, Off<ExitRecord>("Count"));
        Assert.Equal(0x18, Off<ExitRecord>("Data"));
        Assert.Equal(0x20, Off<ExitRecord>("Status"));
        Assert.Equal(0x24, Off<ExitRecord>("StatusArg"));
    }

    [Fact]
    public void Counter_fields()
    {
        Assert.Equal(0x00, Off<MonitorCounters>("Exits"));
        Assert.Equal(0x08, Off<MonitorCounters>("RoundTrips"));
        Assert.Equal(0x10, Off<MonitorCounters>("Refused"));
        Assert.Equal(0x18, Off<MonitorCounters>("IrqEdges"));
        Assert.Equal(0x20, Off<MonitorCounters>("StateServedFromPage"));
        Assert.Equal(0x28, Off<MonitorCounters>("StateFetches"));
        Assert.Equal(0x30, Off<MonitorCounters>("BatchedWrites"));
        Assert.Equal(0x38, Off<MonitorCounters>("CachedReadHits"));
        Assert.Equal(0x00, Off<DeviceModelCounters>("ExitsServed"));
        Assert.Equal(0x08, Off<DeviceModelCounters>("IrqChanges"));
        Assert.Equal(0x10, Off<DeviceModelCounters>("Unhandled"));
        Assert.Equal(0x18, Off<DeviceModelCounters>("StateFromPage"));
        Assert.Equal(0x20, Off<DeviceModelCounters>("StateRoundTrips"));
        Assert.Equal(0x28, Off<DeviceModelCounters>("CommitRoundTrips"));
        Assert.Equal(0x30, Off<DeviceModelCounters>("BatchedWritesDrained"));
    }

    [Fact]
    public void State_area_fields()
    {
        string[] gprs = ["Eax", "Ecx", "Edx", "Ebx", "Esp", "Ebp", "Esi", "Edi", "Eip", "Eflags"];
        for (int i = 0; i < gprs.Length; i++) Assert.Equal(i * 4, Off<GprArea>(gprs[i]));
        string[] segs = ["Es", "Cs", "Ss", "Ds", "Fs", "Gs", "Ldtr", "Tr"];
        for (int i = 0; i < segs.Length; i++) Assert.Equal(i * 16, Off<SegsArea>(segs[i]));
        Assert.Equal(0x80, Off<SegsArea>("Gdtr"));
        Assert.Equal(0x88, Off<SegsArea>("Idtr"));
        Assert.Equal(0x00, Off<SegmentArea>("Base"));
        Assert.Equal(0x04, Off<SegmentArea>("Limit"));
        Assert.Equal(0x08, Off<SegmentArea>("Selector"));
        Assert.Equal(0x0C, Off<SegmentArea>("Attributes"));
        Assert.Equal(0x00, Off<TableArea>("Base"));
        Assert.Equal(0x04, Off<TableArea>("Limit"));
        Assert.Equal(0x00, Off<CrArea>("Cr0"));
        Assert.Equal(0x04, Off<CrArea>("Cr2"));
        Assert.Equal(0x08, Off<CrArea>("Cr3"));
        Assert.Equal(0x0C, Off<CrArea>("Cr4"));
        Assert.Equal(0x00, Off<MsrArea>("Count"));
        Assert.Equal(0x10, Off<MsrArea>("Slots"));
        Assert.Equal(0x00, Off<MsrSlot>("Index"));
        Assert.Equal(0x08, Off<MsrSlot>("Value"));
        Assert.Equal(0x00, Off<IntrArea>("InterruptShadow"));
        Assert.Equal(0x01, Off<IntrArea>("NmiPending"));
        Assert.Equal(0x00, Off<OutBatchRing>("Pending"));
        Assert.Equal(0x04, Off<OutBatchRing>("Drained"));
        Assert.Equal(0x40, Off<OutBatchRing>("Slots"));
        Assert.Equal(0x00, Off<OutRingSlot>("Address"));
        Assert.Equal(0x04, Off<OutRingSlot>("Space"));
        Assert.Equal(0x05, Off<OutRingSlot>("Size"));
        Assert.Equal(0x08, Off<OutRingSlot>("Value"));
        Assert.Equal(0x00, Off<InValueTable>("Count"));
        Assert.Equal(0x04, Off<InValueTable>("Generation"));
        Assert.Equal(0x40, Off<InValueTable>("Slots"));
        Assert.Equal(0x00, Off<InTableSlot>("Port"));
        Assert.Equal(0x02, Off<InTableSlot>("Size"));
        Assert.Equal(0x03, Off<InTableSlot>("Flags"));
        Assert.Equal(0x04, Off<InTableSlot>("Value"));
        Assert.Equal(0x08, Off<InTableSlot>("DependsOn"));
        Assert.Equal(0x0A, Off<InTableSlot>("DependsCount"));
        Assert.Equal(0x0C, Off<InTableSlot>("KeyPort"));
        Assert.Equal(0x0E, Off<InTableSlot>("KeyValue"));
        Assert.Equal(0x0F, Off<InTableSlot>("KeyMask"));
        Assert.Equal(0x00, Off<RamWriteLog>("Count"));
        Assert.Equal(0x10, Off<RamWriteLog>("Slots"));
        Assert.Equal(0x00, Off<RamWriteSlot>("Address"));
        Assert.Equal(0x04, Off<RamWriteSlot>("Length"));
    }

    [Fact]
    public void Control_frames_round_trip_and_short_payloads_are_refused()
    {
        var hello = new Virt.Shared.Control.Hello(0x10000, Virt.Shared.Control.Features.IrqLines, new byte[32], "dm", 42);
        ReadOnlyMemory<byte> frame = hello.ToFrame();
        Assert.Equal(frame.Length - 8, BitConverter.ToInt32(frame.Span));
        Assert.Equal((ushort)Virt.Shared.Control.MessageType.Hello, BitConverter.ToUInt16(frame.Span[4..]));
        var back = Virt.Shared.Control.Hello.Read(frame.Span[8..]);
        Assert.Equal(("dm", 42, Virt.Shared.Control.Features.IrqLines), (back.Name, back.Pid, back.Features));
        Assert.Throws<Virt.Shared.Control.ProtocolException>(() => Virt.Shared.Control.Hello.Read(frame.Span[8..20]));
    }
}
