using System.Text.Json;
using Iced.Intel;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Guests;
using Virt.Shared.Control;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.Placements;

/// <summary>
/// Side-effect-free regions (control protocol 1.5, docs/placements.md): a device model's shared-memory
/// range is written by the guest with no exit and read by the device model; a constant port range is
/// answered by the monitor, every size and string form, without an exit reaching the device model;
/// the claim rules; and device models that speak the protocol as it was before still attach.
/// </summary>
public class RegionTests
{
    private const ushort RenderPort = 0x510, ConstantBase = 0x2F8;
    private const uint TextBuffer = 0xB8000;

    /// <summary>Writes two rows of the text buffer (character, attribute 0x07), asks for a render, exits with 0.</summary>
    private static byte[] WriteTextBuffer()
    {
        var a = new GuestAssembler();
        Assembler asm = a.Asm;
        void Row(int row, string text)
        {
            for (int i = 0; i < text.Length; i++)
                asm.mov(__word_ptr[(int)(TextBuffer + (row * 80 + i) * 2)], (ushort)(0x0700 | text[i]));
        }
        Row(0, "shared memory, no exit");
        Row(3, "row three");
        asm.mov(dx, RenderPort);
        asm.@out(dx, al);
        asm.mov(al, 0);
        asm.@out((byte)GuestAssembler.ExitPort, al);
        asm.cli();
        asm.hlt();
        return a.Build();
    }

    [Fact]
    public async Task A_shared_memory_text_buffer_is_written_with_no_exit_and_the_device_model_renders_it()
    {
        string stats = Path.Combine(TempDir.Create("virt-region"), "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(WriteTextBuffer()), "--dm", $"virt-harness --text-buffer 0x{TextBuffer:X}:0x{RenderPort:X}", "--stats", stats]);
        int status = await run.WaitAsync();
        Assert.True(status == 1, $"status {status}\n{run.Describe()}");
        Assert.Contains("shared memory, no exit\nrow three\n", run.Stdout);
        Assert.Contains("text-buffer mmio 0xB8000-0xB8FFF", run.Stderr);

        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement root = doc.RootElement;
        // 31 character writes, none of them an exit: only the render and the exit port left the guest.
        JsonElement byReason = root.GetProperty("exitsByReason");
        Assert.Equal(2, byReason.GetProperty("io-out").GetInt64());
        Assert.False(byReason.TryGetProperty("mmio-write", out _));
        Assert.False(byReason.TryGetProperty("mmio-read", out _));
        Assert.Empty(root.GetProperty("mmioPages").EnumerateArray());
        Assert.Empty(run.LeftoverVmDirectories());
    }

    /// <summary>Writes 'A' into the text buffer, says so, then reads it until it reads as nobody's (all ones) and exits with 5.</summary>
    private static byte[] WatchTextBuffer()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        a.mov(__byte_ptr[(int)TextBuffer], (byte)'A');
        a.cmp(__byte_ptr[(int)TextBuffer], (byte)'A');
        Label bad = a.CreateLabel(), poll = a.CreateLabel();
        a.jne(bad);
        g.Print("written\r\n");
        a.nop(); // Print ends on a label of its own
        a.Label(ref poll);
        a.cmp(__byte_ptr[(int)TextBuffer], 0xFF);
        a.jne(poll);
        g.Print("hole\r\n");
        g.Exit(5);
        a.Label(ref bad);
        g.Exit(0x55);
        return g.Build();
    }

    [Fact]
    public async Task A_shared_memory_region_goes_back_to_the_hole_when_its_device_model_detaches()
    {
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(WatchTextBuffer()), "--dm", "virt-dm",
            "--dm", $"virt-harness --debugcon none --exit none --text-buffer 0x{TextBuffer:X}:0x{RenderPort:X}"]);
        await run.WaitUntilAsync(() => run.Stdout.Contains("written"), "the guest's write to the text buffer");
        var (code, output, err) = await DeviceModels.VirtCli.RunAsync(run.RuntimeDir, "detach", run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "virt-harness");
        Assert.True(code == 0, $"detach: {code} {output} {err}\n{run.Describe()}");
        int status = await run.WaitAsync();
        Assert.True(status == (5 << 1 | 1), $"status {status}\n{run.Describe()}");
        Assert.Contains("hole", run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    /// <summary>
    /// Reads the constant range in every form (IN AL, AX and EAX, an OUT in between, REP INSB) and exits
    /// with 0 when each read what the claim declared, 0x55 otherwise.
    /// </summary>
    private static byte[] ReadConstantPorts(uint value)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label fail = a.CreateLabel();
        a.mov(dx, ConstantBase + 1);
        a.@in(al, dx);
        a.cmp(al, (byte)value);
        a.jne(fail);
        a.@out(dx, al); // dropped
        a.@in(ax, dx);
        a.cmp(ax, (ushort)value);
        a.jne(fail);
        a.mov(dx, ConstantBase + 4);
        a.@in(eax, dx);
        a.cmp(eax, value);
        a.jne(fail);
        // REP INSB of 16 bytes into 0x20000: every byte the low byte of the value.
        a.mov(edi, 0x2_0000);
        a.mov(ecx, 16);
        a.cld();
        a.rep.insb();
        a.mov(esi, 0x2_0000);
        a.mov(ecx, 16);
        Label check = a.CreateLabel();
        a.Label(ref check);
        a.lodsb();
        a.cmp(al, (byte)value);
        a.jne(fail);
        a.loop(check);
        a.mov(al, 0);
        a.@out((byte)GuestAssembler.ExitPort, al);
        a.cli();
        a.hlt();
        a.Label(ref fail);
        a.mov(al, 0x55);
        a.@out((byte)GuestAssembler.ExitPort, al);
        a.cli();
        a.hlt();
        return g.Build();
    }

    [Fact]
    public async Task A_constant_port_range_is_answered_by_the_monitor_in_every_form()
    {
        const uint value = 0x1234_5678;
        string stats = Path.Combine(TempDir.Create("virt-region"), "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(ReadConstantPorts(value)), "--dm", $"virt-harness --constant 0x{ConstantBase:X}:8=0x{value:X}", "--stats", stats]);
        int status = await run.WaitAsync();
        Assert.True(status == 1, $"status {status}\n{run.Describe()}");
        Assert.Contains("constant ports 0x2F8-0x2FF", run.Stderr);

        using var doc = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement root = doc.RootElement;
        // The exit port's write is the only exit a device model served, and its only round trip.
        Assert.Equal(1, root.GetProperty("exitsByTarget").GetProperty("device-model").GetInt64());
        Assert.Equal(1, root.GetProperty("roundTrips").GetProperty("count").GetInt64());
        Assert.True(root.GetProperty("exitsByTarget").GetProperty("monitor").GetInt64() >= 4 + 16);
        long reads = root.GetProperty("ports").EnumerateArray().Where(p => p.GetProperty("port").GetInt32() is >= ConstantBase and < ConstantBase + 8)
            .Sum(p => p.GetProperty("reads").GetInt64());
        Assert.Equal(3 + 16, reads);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    private static async Task<(ControlConnection Conn, VirtRun Run)> AttachAsync(uint version)
    {
        var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(TestGuests.HaltNoIo()), "--dm", "external"]);
        await run.WaitUntilAsync(() => run.LeftoverVmDirectories().Any(d => File.Exists(Path.Combine(d, "control.sock"))), "the control socket");
        string dir = run.LeftoverVmDirectories().Single();
        byte[] secret = Convert.FromHexString(File.ReadAllText(Path.Combine(dir, "secret")));
        var conn = await ControlConnection.ConnectAsync(Path.Combine(dir, "control.sock"));
        await conn.SendAsync(new Hello(version, Features.None, secret, "region-test", Environment.ProcessId).ToFrame());
        var welcome = await conn.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MessageType.Welcome, welcome!.Value.Type);
        Assert.Equal(Protocol.Version, Welcome.Read(welcome.Value.Payload).Version);
        return (conn, run);
    }

    private static async Task<ClaimResult> ClaimAsync(ControlConnection c, uint id, byte space, ulong start, ulong length, ClaimFlags flags, uint value = 0)
    {
        await c.SendAsync(new Claim(id, space, start, length, (uint)flags, $"dev{id}", value).ToFrame());
        var f = await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MessageType.ClaimResult, f!.Value.Type);
        return ClaimResult.Read(f.Value.Payload);
    }

    [Fact]
    public async Task Region_claims_are_checked_shared_memory_only_in_the_vga_window_constants_only_on_ports()
    {
        var (c, run) = await AttachAsync(Protocol.Version);
        using (run)
        await using (c)
        {
            Assert.Contains("for MMIO ranges only", (await ClaimAsync(c, 1, 0, 0x300, 4, ClaimFlags.SharedMemory)).Reason);
            Assert.Contains("for port ranges only", (await ClaimAsync(c, 2, 1, 0xFEB0_0000, 0x1000, ClaimFlags.Constant, 1)).Reason);
            Assert.Contains("take no other flag", (await ClaimAsync(c, 3, 0, 0x300, 4, ClaimFlags.Constant | ClaimFlags.PlatformEvents, 1)).Reason);
            Assert.Contains("take no other flag", (await ClaimAsync(c, 4, 1, 0xB8000, 0x1000, ClaimFlags.SharedMemory | ClaimFlags.Constant, 1)).Reason);
            Assert.Contains("legacy VGA window", (await ClaimAsync(c, 5, 1, 0xB8100, 0x1000, ClaimFlags.SharedMemory)).Reason);
            Assert.Contains("legacy VGA window", (await ClaimAsync(c, 6, 1, 0xFEB0_0000, 0x1000, ClaimFlags.SharedMemory)).Reason);
            Assert.Contains("legacy VGA window", (await ClaimAsync(c, 7, 1, 0x10_0000, 0x1000, ClaimFlags.SharedMemory)).Reason);
            Assert.Contains("overlaps guest RAM", (await ClaimAsync(c, 8, 1, 0xB8000, 0x1000, ClaimFlags.None)).Reason);
            Assert.True((await ClaimAsync(c, 9, 1, 0xB8000, 0x8000, ClaimFlags.SharedMemory)).Accepted);
            Assert.Contains("overlaps", (await ClaimAsync(c, 10, 1, 0xBC000, 0x1000, ClaimFlags.SharedMemory)).Reason);
            Assert.True((await ClaimAsync(c, 11, 0, 0x300, 4, ClaimFlags.Constant, 0xAB)).Accepted);
            Assert.Contains("undefined bits", (await ClaimAsync(c, 12, 0, 0x310, 4, (ClaimFlags)(1 << 6))).Reason);
            await c.SendAsync(Ready.ToFrame());
            Assert.Equal(MessageType.Shutdown, (await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Value.Type);
            Assert.Equal(0, await run.WaitAsync());
        }
    }

    [Fact]
    public async Task A_device_model_speaking_protocol_1_4_attaches_and_claims_as_before()
    {
        var (c, run) = await AttachAsync((uint)Protocol.Major << 16 | 4);
        using (run)
        await using (c)
        {
            // A 1.4 Claim: no value after the name.
            Assert.True((await ClaimAsync(c, 1, 0, 0x300, 4, ClaimFlags.None)).Accepted);
            await c.SendAsync(Ready.ToFrame());
            Assert.Equal(MessageType.Shutdown, (await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Value.Type);
            Assert.Equal(0, await run.WaitAsync());
        }
    }

    [Fact]
    public void A_claim_carries_its_value_only_with_the_constant_flag()
    {
        var plain = new Claim(7, 0, 0x300, 4, 0, "dev");
        var constant = new Claim(8, 0, 0x300, 4, (uint)ClaimFlags.Constant, "dev", 0xCAFE);
        ReadOnlyMemory<byte> plainFrame = plain.ToFrame(), constantFrame = constant.ToFrame();
        // The 1.4 layout, byte for byte: header, u32 id, u8 space, u64 start, u64 length, u32 flags, str name.
        Assert.Equal(Protocol.HeaderSize + 4 + 1 + 8 + 8 + 4 + 2 + 3, plainFrame.Length);
        Assert.Equal(plainFrame.Length + 4, constantFrame.Length);
        Assert.Equal(plain, Claim.Read(plainFrame.Span[Protocol.HeaderSize..]));
        Assert.Equal(constant, Claim.Read(constantFrame.Span[Protocol.HeaderSize..]));
        // A constant claim without its value is short: a protocol error, as any short payload.
        Assert.Throws<ProtocolException>(() => Claim.Read(constantFrame.Span[Protocol.HeaderSize..^4]));
    }
}
