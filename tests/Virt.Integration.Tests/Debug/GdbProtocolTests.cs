using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Debug;

/// <summary>
/// The stub on a raw socket: what gdb never sends (bad checksums, bad hex, huge lengths, unknown
/// commands, a packet bigger than announced) gets an error or the empty reply, the monitor lives
/// on and the guest still finishes; Ctrl-C, single steps and detach; loopback only.
/// </summary>
public partial class GdbProtocolTests
{
    [Fact]
    public async Task Malformed_and_hostile_packets_get_error_or_empty_replies_and_the_guest_still_finishes()
    {
        var (run, port) = await DebugRuns.StartAsync(waitForDebugger: true);
        using var _ = run;
        using var gdb = await GdbClient.ConnectAsync(port);

        gdb.SendRaw("$?#00");                                       // bad checksum: asked again
        Assert.Equal('-', await gdb.ReadByteAsync());
        gdb.SendRaw("$?#zz");                                       // checksum that is not hex
        Assert.Equal('-', await gdb.ReadByteAsync());
        gdb.SendRaw("$" + new string('m', 20000) + "#00");          // bigger than the PacketSize announced
        Assert.Equal('-', await gdb.ReadByteAsync());
        gdb.SendRaw("garbage between packets\x7f\xff");            // noise: ignored
        Assert.Equal("T05thread:1;", await gdb.RequestAsync("?"));  // -S: stopped before the first instruction

        Assert.Contains("PacketSize=4000", await gdb.RequestAsync("qSupported:swbreak+;hwbreak+"));
        Assert.Equal("E01", await gdb.RequestAsync("mzz,4"));                       // bad hex
        Assert.Equal("E01", await gdb.RequestAsync("m100000"));                     // no length
        Assert.Equal("E01", await gdb.RequestAsync("m11112222333344445,4"));        // more than 64 bits
        Assert.Equal("E14", await gdb.RequestAsync("m1ffffffff,4"));                // past 4 GiB
        Assert.Equal("E14", await gdb.RequestAsync("mf0000000,4"));                 // not RAM
        string big = await gdb.RequestAsync("m100000,ffffffff");                    // huge length: what fits in a packet
        Assert.InRange(big.Length, 2, 0x4000);
        Assert.Equal(0, big.Length % 2);
        Assert.Equal("E22", await gdb.RequestAsync("p999"));                        // no such register
        Assert.Equal("E01", await gdb.RequestAsync("pzz"));
        Assert.Equal("E01", await gdb.RequestAsync("G00"));                         // a G of the wrong size
        Assert.Equal("E01", await gdb.RequestAsync("P0=123"));                      // odd hex
        Assert.Equal("E22", await gdb.RequestAsync("P0=1234"));                     // EAX is four bytes, not two
        Assert.Equal("E22", await gdb.RequestAsync("Pa=33000000"));                 // CS 0x33 in protected mode: no descriptor load behind gdb's back
        Assert.Equal("E14", await gdb.RequestAsync("Mf0000000,1:00"));
        Assert.Equal("E01", await gdb.RequestAsync("M100000,2:0"));                 // length and data disagree
        Assert.Equal("E01", await gdb.RequestAsync("Z0,zz,1"));
        Assert.Equal("", await gdb.RequestAsync("Z9,100000,1"));                    // unknown breakpoint type
        Assert.Equal("E22", await gdb.RequestAsync("Z2,100000,0"));                 // empty watch range
        Assert.Equal("E22", await gdb.RequestAsync("Z2,fffffffe,10"));              // wraps past 4 GiB
        Assert.Equal("E01", await gdb.RequestAsync("vCont;x"));
        Assert.Equal("E01", await gdb.RequestAsync("Cxyz"));
        Assert.Equal("", await gdb.RequestAsync("X100000,1:a"));                    // binary writes: not offered (gdb uses M)
        Assert.Equal("", await gdb.RequestAsync("Qunknown"));
        Assert.Equal("", await gdb.RequestAsync("vMustReplyEmpty"));
        Assert.Equal("E22", await gdb.RequestAsync("qXfer:features:read:other.xml:0,100"));
        string xml = await gdb.RequestAsync("qXfer:features:read:target.xml:0,3000");
        Assert.StartsWith("l<?xml", xml);
        Assert.Contains("<architecture>i386</architecture>", xml);
        Assert.Contains("name=\"st7\" bitsize=\"80\" type=\"i387_ext\"", xml);
        Assert.Contains("name=\"gs\"", xml);
        Assert.Equal(2 * (16 * 4 + 8 * 10 + 8 * 4 + 10 * 4), (await gdb.RequestAsync("g")).Length);

        // Still serving: the guest runs to its end and gdb is told its exit status.
        await gdb.SendAsync("c");
        Assert.Equal("W07", await gdb.ReadPacketAsync());
        Assert.Equal(7, await run.WaitAsync());
        Assert.Contains("gdbtarget: counter=145", run.Stdout);
    }

    [Fact]
    public async Task Ctrl_C_stops_a_running_guest_a_step_moves_it_one_instruction_and_detach_lets_it_finish()
    {
        var (run, port) = await DebugRuns.StartAsync(waitForDebugger: false, append: "spin=1");
        using var _ = run;
        using var gdb = await GdbClient.ConnectAsync(port);
        Assert.Equal("T05thread:1;", await gdb.RequestAsync("?"));   // a debugger connecting stops the guest
        await gdb.SendAsync("c");
        await run.WaitUntilAsync(() => run.Stdout.Contains("gdbtarget: spinning"), "the guest spinning");

        gdb.SendRaw([0x03]);                                          // Ctrl-C
        Assert.Equal("T02thread:1;", await gdb.ReadPacketAsync());
        uint eip = Eip(await gdb.RequestAsync("g"));
        await gdb.SendAsync("s");
        Assert.Equal("T05thread:1;", await gdb.ReadPacketAsync());
        Assert.NotEqual(eip, Eip(await gdb.RequestAsync("g")));     // the spin loop moved on by one instruction

        // Let the loop end: release = 1, written through the stub.
        uint release = Convert.ToUInt32(ReleaseAt().Match(run.Stdout).Groups[1].Value, 16);
        Assert.Equal("OK", await gdb.RequestAsync($"M{release:x},4:01000000"));
        Assert.Equal("01000000", await gdb.RequestAsync($"m{release:x},4"));
        Assert.Equal("OK", await gdb.RequestAsync("D"));
        Assert.Equal(7, await run.WaitAsync());
        Assert.Contains("gdbtarget: counter=145", run.Stdout);
    }

    /// <summary>EIP from a g reply: register 8, four bytes little-endian.</summary>
    private static uint Eip(string registers) =>
        System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Convert.ToUInt32(registers.Substring(8 * 8, 8), 16));

    [GeneratedRegex(@"release at ([0-9a-f]+)")]
    private static partial Regex ReleaseAt();

    [Fact]
    public async Task The_stub_listens_on_this_host_only()
    {
        using (var refused = VirtRun.Start(["run", "--demo", "--gdb", "tcp:0.0.0.0:1234"]))
        {
            Assert.Equal(2, await refused.WaitAsync());
            Assert.Contains("listens on this host only", refused.Stderr);
        }

        var (run, port) = await DebugRuns.StartAsync(waitForDebugger: true);
        using var _ = run;
        // Through an address of this machine that is not the loopback: nothing listens there.
        IPAddress[] others = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .ToArray();
        foreach (IPAddress a in others)
        {
            using var tcp = new TcpClient();
            var e = await Assert.ThrowsAnyAsync<SocketException>(() => tcp.ConnectAsync(a, port).WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        }
        // The loopback is served, one debugger at a time: a second connection is closed at once.
        using var gdb = await GdbClient.ConnectAsync(port);
        Assert.Equal("T05thread:1;", await gdb.RequestAsync("?"));
        using (var second = await GdbClient.ConnectAsync(port))
        {
            await Assert.ThrowsAsync<IOException>(async () =>
            {
                second.SendRaw(GdbClient.Frame("?"));
                await second.ReadByteAsync();
            });
        }
        Assert.Equal("T05thread:1;", await gdb.RequestAsync("?"));
        await gdb.SendAsync("k");                                     // k ends the VM; it has no reply
        Assert.Equal(130, await run.WaitAsync());
        Assert.Contains("killed by the debugger", run.Stderr);
    }

    [Fact]
    public async Task A_port_in_use_is_a_usage_error_before_the_guest_runs()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var run = VirtRun.Start(["run", "--kernel", DebugRuns.Guest, "--dm", "virt-harness", "--gdb", $"tcp::{port}"]);
        Assert.Equal(2, await run.WaitAsync());
        Assert.Contains($"--gdb tcp::{port}", run.Stderr);
        Assert.DoesNotContain("gdbtarget:", run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());
    }
}
