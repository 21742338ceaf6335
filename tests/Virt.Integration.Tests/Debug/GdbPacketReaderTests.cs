using System.Text;
using Virt.Monitor.Debug;

namespace Virt.Integration.Tests.Debug;

/// <summary>The stub's framing, byte by byte: what a peer can put on the wire and what comes out.</summary>
public class GdbPacketReaderTests
{
    private static List<(GdbInput Input, string Packet)> Feed(GdbPacketReader r, string bytes) =>
        Encoding.Latin1.GetBytes(bytes).Select(r.Feed).Select(i => (i, i == GdbInput.Packet ? r.Packet : "")).Where(x => x.i != GdbInput.None).ToList();

    [Fact]
    public void Packets_acks_interrupts_and_bad_checksums_are_told_apart()
    {
        var r = new GdbPacketReader();
        var got = Feed(r, "+$g#67-\x03$g#00noise$m0,4#fd$}]#da");
        Assert.Equal(
            [(GdbInput.Ack, ""), (GdbInput.Packet, "g"), (GdbInput.Nak, ""), (GdbInput.Interrupt, ""), (GdbInput.BadChecksum, ""),
             (GdbInput.Packet, "m0,4"), (GdbInput.Packet, "}")],
            got);
    }

    [Fact]
    public void A_packet_longer_than_announced_is_dropped_whole_and_the_next_one_still_reads()
    {
        var r = new GdbPacketReader();
        Assert.Equal([(GdbInput.TooLong, "")], Feed(r, "$" + new string('a', GdbPacketReader.MaxPacket + 1) + "#00"));
        Assert.Equal([(GdbInput.Packet, "?")], Feed(r, "$?#3f"));
        // A '$' inside a packet starts a new one: the cut one is forgotten.
        Assert.Equal([(GdbInput.Packet, "g")], Feed(r, "$mmm$g#67"));
    }

    [Fact]
    public void Replies_escape_what_would_end_or_start_a_packet()
    {
        Assert.Equal("$OK#9a", Encoding.Latin1.GetString(GdbPacketReader.Frame("OK")));
        var r = new GdbPacketReader();
        string framed = Encoding.Latin1.GetString(GdbPacketReader.Frame("a#b$c}d*e"));
        Assert.DoesNotContain("#b", framed);
        Assert.Equal([(GdbInput.Packet, "a#b$c}d*e")], Feed(r, framed));
    }
}
