using System.Buffers.Binary;
using System.Text;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Linux;

/// <summary>The 32-bit Linux boot protocol on synthetic bzImages (setup header only, a few bytes of kernel).</summary>
public class LinuxLoaderTests
{
    private const uint Ram = 64u << 20;

    /// <summary>A minimal bzImage: boot sector + setup_sects sectors of setup, then the "kernel".</summary>
    private static byte[] Image(ushort version = 0x020F, byte setupSects = 4, byte loadFlags = 0x01, uint initrdMax = 0x37FF_FFFF, uint cmdlineSize = 2047, int kernelBytes = 4096)
    {
        var img = new byte[(setupSects + 1) * 512 + kernelBytes];
        img[0x1F1] = setupSects;
        BinaryPrimitives.WriteUInt16LittleEndian(img.AsSpan(0x1FE), 0xAA55);
        img[0x200] = 0xEB; img[0x201] = 0x6A; // jmp to 0x26C: the header ends there
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x202), 0x5372_6448);
        BinaryPrimitives.WriteUInt16LittleEndian(img.AsSpan(0x206), version);
        img[0x211] = loadFlags;
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x214), 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x22C), initrdMax);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x230), 0x100_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x238), cmdlineSize);
        BinaryPrimitives.WriteUInt32LittleEndian(img.AsSpan(0x260), 0x20_0000); // init_size
        int k = (setupSects + 1) * 512;
        img[k] = 0xF4; // hlt: the "kernel"
        img[k + 1] = 0xAB;
        return img;
    }

    [Fact]
    public void LoadsKernelBootParamsCommandLineAndInitrd()
    {
        using var m = new TestMachine(Ram);
        var initrd = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        var layout = LinuxLoader.Load(m.Cpu, Image(), initrd, "console=ttyS0 quiet", Ram);

        Assert.Equal(0xF4, m.Memory.Read8(0x10_0000));
        Assert.Equal(0xAB, m.Memory.Read8(0x10_0001));
        uint bp = layout.BootParamsAddress;
        Assert.Equal(0x5372_6448u, m.Memory.Read32(bp + 0x202));
        Assert.Equal(0xFF, m.Memory.Read8(bp + 0x210));                 // type_of_loader
        Assert.Equal(0x81, m.Memory.Read8(bp + 0x211));                 // LOADED_HIGH | CAN_USE_HEAP
        Assert.Equal(0xFE00 - 0x200, m.Memory.Read16(bp + 0x224));      // heap_end_ptr
        uint cmd = m.Memory.Read32(bp + 0x228);
        var text = new byte[19];
        m.Memory.Read(cmd, text);
        Assert.Equal("console=ttyS0 quiet", Encoding.ASCII.GetString(text));
        Assert.Equal(0, m.Memory.Read8(cmd + 19));

        uint rdAddr = m.Memory.Read32(bp + 0x218), rdSize = m.Memory.Read32(bp + 0x21C);
        Assert.Equal(10_000u, rdSize);
        Assert.Equal(0u, rdAddr & 0xFFF);
        Assert.True(rdAddr + rdSize <= Ram);
        Assert.True(rdAddr >= 0x10_0000 + 0x20_0000); // above the kernel's init_size
        Assert.Equal(initrd[9_999], m.Memory.Read8(rdAddr + 9_999));

        // e820: RAM below 640K, reserved 640K-1M, RAM from 1M to the top.
        Assert.Equal(3, m.Memory.Read8(bp + 0x1E8));
        Assert.Equal(0UL, m.Memory.Read64(bp + 0x2D0));
        Assert.Equal(0xA0000UL, m.Memory.Read64(bp + 0x2D8));
        Assert.Equal(1u, m.Memory.Read32(bp + 0x2E0));
        Assert.Equal(2u, m.Memory.Read32(bp + 0x2E4 + 16));
        Assert.Equal(0x10_0000UL, m.Memory.Read64(bp + 0x2F8));
        Assert.Equal((ulong)Ram - 0x10_0000, m.Memory.Read64(bp + 0x300));
    }

    /// <summary>The guest firmware's region (docs/firmware-reflection.md) lies in a reserved e820 entry: no Linux takes it, whatever the RAM size.</summary>
    [Theory]
    [InlineData(16u << 20)]
    [InlineData(256u << 20)]
    public void TheGuestFirmwareRegionIsReservedInTheE820Map(uint ram)
    {
        using var m = new TestMachine(ram);
        var layout = LinuxLoader.Load(m.Cpu, Image(), [], "", ram);
        E820Entry covering = Assert.Single(layout.MemoryMap, e => e.Address <= Virt.Pc.Board.PcMemoryMap.GuestFirmwareBase
            && e.Address + e.Length >= Virt.Pc.Board.PcMemoryMap.GuestFirmwareBase + Virt.Pc.Board.PcMemoryMap.GuestFirmwareSize);
        Assert.Equal(E820Type.Reserved, covering.Type);
    }

    [Fact]
    public void EntersAtCode32StartWithBootSegmentsAndEsi()
    {
        using var m = new TestMachine(Ram);
        LinuxLoader.Load(m.Cpu, Image(), [], "", Ram);
        var s = m.Cpu.State;
        Assert.Equal(0x10_0000u, s.Eip);
        Assert.Equal(LinuxLoader.BootParamsAddress, s.Esi);
        Assert.Equal(0u, s.Ebp | s.Edi | s.Ebx);
        Assert.Equal((ushort)0x10, s.Cs.Selector);
        Assert.Equal((ushort)0x18, s.Ds.Selector);
        Assert.Equal((ushort)0x18, s.Ss.Selector);
        Assert.Equal(0u, s.Eflags & 0x200);  // interrupts off
        Assert.Equal(1u, s.Cr0 & 0x8000_0001);   // protected mode, paging off
        // The GDT in memory really has flat code and data at 0x10 and 0x18.
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, m.Memory.Read64(s.Gdtr.Base + 0x10));
        Assert.Equal(0x00CF_9300_0000_FFFFUL, m.Memory.Read64(s.Gdtr.Base + 0x18));
        Assert.Equal(Execution.StopReason.Halted, m.Run()); // the "kernel" is a HLT
        Assert.Equal(0u, m.Memory.Read32(LinuxLoader.BootParamsAddress + 0x218)); // no initrd
    }

    [Fact]
    public void InitrdRespectsInitrdAddrMax()
    {
        using var m = new TestMachine(Ram);
        var layout = LinuxLoader.Load(m.Cpu, Image(initrdMax: 0x00FF_FFFF), new byte[5000], "", Ram);
        Assert.True(layout.InitrdAddress + layout.InitrdSize <= 0x100_0000);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("nosig")]
    [InlineData("nomagic")]
    [InlineData("old")]
    [InlineData("zimage")]
    [InlineData("setup-beyond-image")]
    public void RejectsMalformedImages(string what)
    {
        byte[] img = Image();
        switch (what)
        {
            case "tiny": img = img[..0x200]; break;
            case "nosig": img[0x1FE] = 0; break;
            case "nomagic": img[0x202] = (byte)'X'; break;
            case "old": img = Image(version: 0x0203); break;
            case "zimage": img = Image(loadFlags: 0); break;
            case "setup-beyond-image": img[0x1F1] = 200; break;
        }
        using var m = new TestMachine(Ram);
        var e = Assert.Throws<LinuxImageException>(() => LinuxLoader.Load(m.Cpu, img, [], "", Ram));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void RejectsOverlongCommandLinesAndInitrdsThatDoNotFit()
    {
        using var m = new TestMachine(Ram);
        Assert.Throws<LinuxImageException>(() => LinuxLoader.Load(m.Cpu, Image(cmdlineSize: 8), [], "console=ttyS0", Ram));
        Assert.Throws<LinuxImageException>(() => LinuxLoader.Load(m.Cpu, Image(initrdMax: 0x0030_0000), new byte[0x20_0000], "", Ram));
    }

    /// <summary>Check refuses what Load refuses, without a CPU, so virt can refuse before it creates anything.</summary>
    [Fact]
    public void CheckRefusesWhatLoadRefusesWithoutTouchingAMachine()
    {
        Assert.Equal(0x020F, LinuxLoader.Check(Image(), 0x1000, "console=ttyS0", Ram).Version);
        Assert.Contains("command line", Assert.Throws<LinuxImageException>(() => LinuxLoader.Check(Image(cmdlineSize: 8), 0, "console=ttyS0", Ram)).Message);
        Assert.Contains("initrd", Assert.Throws<LinuxImageException>(() => LinuxLoader.Check(Image(initrdMax: 0x0030_0000), 0x20_0000, "", Ram)).Message);
        Assert.Contains("too little", Assert.Throws<LinuxImageException>(() => LinuxLoader.Check(Image(), 0, "", 8u << 20)).Message);
        Assert.Contains("does not fit", Assert.Throws<LinuxImageException>(() => LinuxLoader.Check(Image(), (int)Ram, "", Ram)).Message);
    }

    [Fact]
    public void SetupSectsZeroMeansFour()
    {
        var img = Image(setupSects: 4);
        img[0x1F1] = 0;
        Assert.Equal(4, LinuxSetupHeader.Parse(img).SetupSects);
    }

    [Fact]
    public void BiosStateHasIvtBdaAndAValidMpTable()
    {
        using var m = new TestMachine(Ram);
        PcBiosState.Prepare(m.Memory);
        Assert.Equal(0xF000_FF53u, m.Memory.Read32(0x08 * 4));
        Assert.Equal(0xCF, m.Memory.Read8(PcBiosState.IretStub));
        Assert.Equal(0x3F8, m.Memory.Read16(0x400));
        Assert.Equal(640, m.Memory.Read16(0x413));

        uint fp = PcBiosState.MpTableAddress;
        Assert.Equal(0x5F50_4D5Fu, m.Memory.Read32(fp)); // "_MP_"
        Assert.Equal(0, Sum(m, fp, 16));
        uint table = m.Memory.Read32(fp + 4);
        Assert.Equal(0x504D_4350u, m.Memory.Read32(table)); // "PCMP"
        int length = m.Memory.Read16(table + 4);
        Assert.Equal(0, Sum(m, table, length));
        Assert.Equal(0xFEE0_0000u, m.Memory.Read32(table + 36));
        // Entries: processor, bus, I/O APIC, 15 ISA IRQs, 2 local interrupts.
        Assert.Equal(3 + 15 + 2, m.Memory.Read16(table + 34));
        Assert.Equal(44 + 20 + 8 * (2 + 15 + 2), length);
        // IRQ0 goes to pin 2 (the first INT entry after the processor, bus and I/O APIC entries).
        uint irq0 = table + 44 + 20 + 8 + 8;
        Assert.Equal(3, m.Memory.Read8(irq0));
        Assert.Equal(0, m.Memory.Read8(irq0 + 5));
        Assert.Equal(2, m.Memory.Read8(irq0 + 7));
    }

    private static int Sum(TestMachine m, uint at, int length)
    {
        int s = 0;
        for (int i = 0; i < length; i++) s += m.Memory.Read8(at + (uint)i);
        return s & 0xFF;
    }
}
