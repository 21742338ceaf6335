using Virt.Devices.Pci;

namespace Virt.Devices.Tests;

public class PciTests
{
    private static uint Read(PciHostBridge p, int bus, int dev, int fn, int reg, int size = 4)
    {
        p.PortWrite(0xCF8, 4, 0x8000_0000u | (uint)(bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC)));
        return p.PortRead((ushort)(0xCFC + (reg & 3)), size);
    }

    [Fact]
    public void HostBridgeIsAn440Fx()
    {
        var p = new PciHostBridge();
        Assert.Equal(0x1237_8086u, Read(p, 0, 0, 0, 0));
        Assert.Equal(0x0600_0002u, Read(p, 0, 0, 0, 8));
        Assert.Equal(0x8086u, Read(p, 0, 0, 0, 0, 2));
        Assert.Equal(0x12u, Read(p, 0, 0, 0, 3, 1));
    }

    [Fact]
    public void AbsentFunctionsReadAllOnes()
    {
        var p = new PciHostBridge();
        Assert.Equal(0xFFFF_FFFFu, Read(p, 0, 1, 0, 0));
        Assert.Equal(0xFFFF_FFFFu, Read(p, 0, 0, 1, 0));
        Assert.Equal(0xFFFF_FFFFu, Read(p, 1, 0, 0, 0));
        Assert.Equal(0xFFFFu, Read(p, 0, 31, 7, 0, 2));
    }

    [Fact]
    public void AddressRegisterReadsBackAndDisabledAccessesFloat()
    {
        var p = new PciHostBridge();
        p.PortWrite(0xCF8, 4, 0x8000_0004);
        Assert.Equal(0x8000_0004u, p.PortRead(0xCF8, 4));
        p.PortWrite(0xCF8, 4, 0x0000_0000);
        Assert.Equal(0xFFFF_FFFFu, p.PortRead(0xCFC, 4));
    }

    [Fact]
    public void CommandRegisterIsWritableButIdIsNot()
    {
        var p = new PciHostBridge();
        p.PortWrite(0xCF8, 4, 0x8000_0000);
        p.PortWrite(0xCFC, 4, 0xFFFF_FFFF);
        Assert.Equal(0x1237_8086u, p.PortRead(0xCFC, 4));
        p.PortWrite(0xCF8, 4, 0x8000_0004);
        p.PortWrite(0xCFC, 2, 0x0007);
        Assert.Equal(0x0007u, p.PortRead(0xCFC, 2));
    }

    [Fact]
    public void Cf9ResetControl()
    {
        var p = new PciHostBridge();
        bool? hard = null;
        p.ResetRequested += h => hard = h;
        p.PortWrite(0xCF9, 1, 0x02);
        Assert.Null(hard);
        p.PortWrite(0xCF9, 1, 0x06);
        Assert.True(hard);
        Assert.Equal(0x06u, p.PortRead(0xCF9, 1) & 0x0E);
    }
}
