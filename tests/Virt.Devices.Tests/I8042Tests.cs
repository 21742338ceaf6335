using Virt.Devices.Input;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests;

public class I8042Tests
{
    private static (I8042Controller Kbc, TestHost Host) Make()
    {
        var host = new TestHost();
        var k = new I8042Controller();
        k.Attach(host);
        return (k, host);
    }

    [Fact]
    public void SelfTestAnswers55AndSetsTheSystemFlag()
    {
        var (k, _) = Make();
        k.Out(0x64, 0xAA);
        Assert.Equal(0x01, k.In(0x64) & 0x01);
        Assert.Equal(0x55, k.In(0x60));
        Assert.Equal(0x04, k.In(0x64) & 0x05);
    }

    [Fact]
    public void CommandByteReadsBackWhatWasWritten()
    {
        var (k, _) = Make();
        k.Out(0x64, 0x60);
        k.Out(0x60, 0x65);
        k.Out(0x64, 0x20);
        Assert.Equal(0x65, k.In(0x60));
    }

    [Fact]
    public void OutputPortControlsA20()
    {
        var (k, _) = Make();
        bool? a20 = null;
        k.A20Changed += on => a20 = on;
        k.Out(0x64, 0xD1);
        k.Out(0x60, 0xDD); // A20 off, reset line high (not asserted)
        Assert.False(a20);
        k.Out(0x64, 0xD0);
        Assert.Equal(0xDD, k.In(0x60));
        k.Out(0x64, 0xD1);
        k.Out(0x60, 0xDF);
        Assert.True(a20);
    }

    [Fact]
    public void FeRaisesReset()
    {
        var (k, _) = Make();
        int resets = 0;
        k.ResetRequested += () => resets++;
        k.Out(0x64, 0xFE);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void KeyboardResetAcksAndInterrupts()
    {
        var (k, host) = Make();
        k.Out(0x60, 0xFF);
        Assert.True(host.Level(1));
        Assert.Equal(0xFA, k.In(0x60));
        Assert.Equal(0xAA, k.In(0x60));
        Assert.False(host.Level(1));
        Assert.Equal(2, host.RisingEdges(1)); // one edge per byte
        k.Out(0x60, 0xF2);
        Assert.Equal(0xFA, k.In(0x60));
        Assert.Equal(0xAB, k.In(0x60));
        Assert.Equal(0x83, k.In(0x60));
    }

    [Fact]
    public void PortTestsAndNoAuxDevice()
    {
        var (k, _) = Make();
        k.Out(0x64, 0xAB);
        Assert.Equal(0x00, k.In(0x60));
        k.Out(0x64, 0xD3);  // aux loopback: the byte comes back as aux data
        k.Out(0x60, 0x5A);
        Assert.Equal(0x21, k.In(0x64) & 0x61);
        Assert.Equal(0x5A, k.In(0x60));
        Assert.Equal(0, k.In(0x64) & 0x01);
        k.Out(0x64, 0xD4);  // to the mouse: nobody there, the controller reports a timeout
        k.Out(0x60, 0xF2);
        Assert.Equal(0x61, k.In(0x64) & 0x61);
        Assert.Equal(0xFE, k.In(0x60));
        Assert.Equal(0, k.In(0x64) & 0x41);
    }

    [Fact]
    public void AuxLoopbackRaisesIrq12WhenEnabled()
    {
        var (k, host) = Make();
        k.Out(0x64, 0x60);
        k.Out(0x60, 0x47);  // command byte: keyboard and aux interrupts, system flag, translation
        k.Out(0x64, 0xD3);
        k.Out(0x60, 0xA5);
        Assert.True(host.Level(12));
        Assert.False(host.Level(1));
        Assert.Equal(0xA5, k.In(0x60));
        Assert.False(host.Level(12));
    }
}
