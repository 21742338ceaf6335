using Virt.Devices.Bus;
using Virt.Devices.Debug;
using Virt.Devices.Sinks;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.Debug;

public sealed class DebugPortTests
{
    [Fact]
    public void Debug_console_prints_written_bytes_and_reads_back_0xE9()
    {
        var sink = new BufferByteSink();
        var con = TestHost.Attach(new DebugConsolePort(sink), out _);
        Assert.Equal([BusRange.Ports(0xE9, 1)], con.Ranges);
        foreach (char c in "boot\n")
            con.Out(0xE9, c);
        Assert.Equal("boot\n", sink.Text);
        Assert.Equal(0xE9, con.In(0xE9));
    }

    [Fact]
    public void Stream_sink_writes_through_to_the_stream()
    {
        var stream = new MemoryStream();
        var con = new DebugConsolePort(new StreamByteSink(stream));
        con.Out(0xE9, 'A');
        con.Out(0xE9, '\n');
        Assert.Equal("A\n"u8.ToArray(), stream.ToArray());
    }

    [Theory]
    [InlineData(1, 0x00u, 1)]
    [InlineData(1, 0x01u, 3)]
    [InlineData(1, 0x31u, 0x63)]
    [InlineData(4, 0x1234u, 0x2469)]
    public void Exit_port_requests_status_v_shifted_left_or_one(int size, uint value, int status)
    {
        var exit = new DebugExitPort(width: 4);
        var requested = new List<int>();
        exit.ExitRequested += requested.Add;
        exit.PortWrite(0xF4, size, value);
        Assert.Equal([status], requested);
        Assert.Equal(status, exit.RequestedStatus);
    }

    [Fact]
    public void Exit_port_masks_the_value_to_the_access_size_and_claims_its_width()
    {
        var exit = new DebugExitPort();
        Assert.Equal([BusRange.Ports(0xF4, 1)], exit.Ranges);
        Assert.Null(exit.RequestedStatus);
        exit.PortWrite(0xF4, 1, 0xFFFF_FF10);
        Assert.Equal(0x21, exit.RequestedStatus);
        Assert.Equal(0u, exit.PortRead(0xF4, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DebugExitPort(width: 3));
    }

    [Fact]
    public void Post_code_port_keeps_the_last_code_and_counts_writes()
    {
        var post = TestHost.Attach(new PostCodePort(), out _);
        Assert.Equal([BusRange.Ports(0x80, 1)], post.Ranges);
        var seen = new List<byte>();
        post.CodeWritten += seen.Add;
        post.Out(0x80, 0x10);
        post.Out(0x80, 0xAA);
        Assert.Equal(0xAA, post.LastCode);
        Assert.Equal(2, post.WriteCount);
        Assert.Equal(0xAA, post.In(0x80));
        Assert.Equal([0x10, 0xAA], seen);
    }

    [Fact]
    public void Post_code_state_round_trips_and_rejects_other_versions()
    {
        var post = new PostCodePort();
        post.Out(0x80, 0x42);
        var copy = new PostCodePort();
        copy.RestoreState(post.SaveState());
        Assert.Equal(0x42, copy.LastCode);
        Assert.Equal(1, copy.WriteCount);
        byte[] bad = post.SaveState();
        bad[5] = 1; // Version 257.
        Assert.Throws<DeviceStateException>(() => copy.RestoreState(bad));
    }
}
