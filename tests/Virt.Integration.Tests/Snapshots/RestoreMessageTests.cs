using Virt.Shared.Control;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>The messages of a restore into a waiting VM (protocol 1.6) as docs/control-protocol.md gives their bytes.</summary>
public class RestoreMessageTests
{
    [Fact]
    public void The_RestoreRequest_example_of_docs_control_protocol_is_what_the_client_writes_and_reads_back()
    {
        byte[] expected = Convert.FromHexString("0F000000" + "1600" + "0000" + "0C00" + "2F746D702F766D2E736E6170" + "00");
        byte[] frame = new RestoreRequest("/tmp/vm.snap").ToFrame().ToArray();
        Assert.Equal(expected, frame);
        Assert.Equal("/tmp/vm.snap", RestoreRequest.Read(frame.AsSpan(Protocol.HeaderSize)).Path);
    }

    [Fact]
    public void A_RestoreRequest_with_a_flag_or_cut_short_is_a_protocol_error()
    {
        byte[] payload = new RestoreRequest("/tmp/vm.snap").ToFrame().ToArray()[Protocol.HeaderSize..];
        payload[^1] = 1;
        Assert.Throws<ProtocolException>(() => RestoreRequest.Read(payload));
        Assert.Throws<ProtocolException>(() => RestoreRequest.Read(payload.AsSpan(0, payload.Length - 1)));
    }

    [Fact]
    public void RestoreState_and_StateRestored_are_read_back_as_written()
    {
        byte[] state = new RestoreState(3).ToFrame().ToArray();
        Assert.Equal((ushort)MessageType.RestoreState, BitConverter.ToUInt16(state, 4));
        Assert.Equal(3u, RestoreState.Read(state.AsSpan(Protocol.HeaderSize)).Count);
        byte[] answer = new StateRestored(false, "no device 'com1' here").ToFrame().ToArray();
        Assert.Equal(new StateRestored(false, "no device 'com1' here"), StateRestored.Read(answer.AsSpan(Protocol.HeaderSize)));
    }
}
