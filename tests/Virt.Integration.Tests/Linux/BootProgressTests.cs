using Virt.Cpu.Exits;
using Virt.Monitor.Vm;

namespace Virt.Integration.Tests.Linux;

/// <summary>The boot status line sits in the exit path: everything must pass through it unchanged.</summary>
public class BootProgressTests
{
    private sealed class AssistingHandler : IExitHandler
    {
        public int Assisted;
        public uint PortIn(ushort port, int size) => 0x5A;
        public void PortOut(ushort port, int size, uint value) { }
        public ulong MmioRead(ulong address, int size) => 0;
        public void MmioWrite(ulong address, int size, ulong value) { }
        public bool TryAssistString(in StringIoAssist chunk)
        {
            Assisted++;
            return true;
        }
    }

    [Fact]
    public void The_string_io_assist_reaches_the_router_behind_the_status_line()
    {
        var inner = new AssistingHandler();
        using var progress = new BootProgress(inner, () => 0);
        IExitHandler handler = progress;
        Assert.True(handler.TryAssistString(new StringIoAssist(0x1F0, 2, Out: false, Count: 256, Segment: 0, Address16: false)));
        Assert.True(handler.TryAssistString(new StringIoAssist(0x3F8, 1, Out: true, Count: 4, Segment: 3, Address16: false)));
        Assert.Equal(2, inner.Assisted);
        Assert.Equal(0x5Au, handler.PortIn(0x3FD, 1));
    }
}
