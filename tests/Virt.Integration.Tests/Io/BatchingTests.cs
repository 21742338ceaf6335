using Iced.Intel;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Bench;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;
using ExitStatus = Virt.Monitor.Cli.ExitStatus;

namespace Virt.Integration.Tests.Io;

/// <summary>
/// Batched OUTs and cached INs (seed 000) against the real device model: the guest sees the same
/// results in every mode, the status-after-command case flushes first, writes stay in order
/// across the ports of one device, a full ring flushes, and the latency timer delivers output.
/// </summary>
public class BatchingTests
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static int Status(byte v) => ExitStatus.FromExitPort(v);

    [Fact]
    public async Task Status_after_command_sees_the_new_status_in_every_mode()
    {
        byte[] guest = IoWorkloads.StatusPoll(200, 3);
        foreach (var (io, state) in IoRuns.AllModes)
        {
            // A latency bound longer than the run: only the status reads may flush a command.
            var r = await IoRuns.RunAsync(guest, io, state, true, "--flush-us", "1000000");
            Assert.True(r.Status == Status(0), $"{io}/{state}: status {r.Status}\n{r.Describe}");
            if (io == "batched")
            {
                // Each first poll after a command found its entry stale and flushed the command with it; the
                // others hit. A read that raced with the device model rewriting its table is a miss (a round
                // trip that drains too): rare, but the device model's timer thread runs concurrently.
                long stale = r.Cached("stale"), misses = r.Cached("misses"), hits = r.Cached("hits");
                Assert.Equal(600, stale + misses + hits);
                Assert.Equal(stale, r.Flushes("stale-read"));
                Assert.True(stale >= 190 && misses <= 10, $"stale {stale}, misses {misses}, hits {hits}");
                Assert.Equal(200, r.Count("batchedWrites"));
            }
            else
            {
                Assert.Equal(0, r.Cached("hits"));
                Assert.Equal(0, r.Count("batchedWrites"));
            }
        }
    }

    /// <summary>FNV-1a step of the test device's sequence hash (IoTestDevice.Fold).</summary>
    private static uint Fold(uint hash, uint what) => (hash ^ what) * 16777619;

    [Fact]
    public async Task Writes_keep_their_order_across_the_ports_of_one_device()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label fail = a.CreateLabel();
        // UART: a batched THR write under DLAB is a divisor write; the synchronous LCR writes around it must not overtake it.
        a.mov(dx, (ushort)0x3FB); a.mov(al, 0x80); a.@out(dx, al);      // LCR: DLAB
        a.mov(dx, (ushort)0x3F8); a.mov(al, 0x01); a.@out(dx, al);      // DLL = 1 (batched)
        a.mov(dx, (ushort)0x3FB); a.mov(al, 0x03); a.@out(dx, al);      // LCR: 8N1
        a.mov(dx, (ushort)0x3F8); a.mov(al, (byte)'A'); a.@out(dx, al); // THR (batched)
        a.mov(dx, (ushort)0x3FB); a.mov(al, 0x83); a.@out(dx, al);
        a.mov(dx, (ushort)0x3F8); a.@in(al, dx);                        // DLL reads back 1
        a.cmp(al, 1); a.jne(fail);
        a.mov(dx, (ushort)0x3FB); a.mov(al, 0x03); a.@out(dx, al);
        a.mov(dx, (ushort)0x3F8); a.mov(al, (byte)'B'); a.@out(dx, al);
        // RTC: batched index writes, synchronous data writes land at the index written just before.
        foreach (var (index, value) in new (byte, byte)[] { (0x40, 0x5A), (0x41, 0xA5), (0x42, 0x3C) })
        {
            a.mov(al, index); a.@out((byte)0x70, al);
            a.mov(al, value); a.@out((byte)0x71, al);
        }
        foreach (var (index, value) in new (byte, byte)[] { (0x41, 0xA5), (0x40, 0x5A), (0x42, 0x3C) })
        {
            a.mov(al, index); a.@out((byte)0x70, al);
            a.@in(al, (byte)0x71);
            a.cmp(al, value); a.jne(fail);
        }
        // A 16-bit OUT to 0x70 writes the index and the data (0x71) in one batched write: a cached
        // read of 0x71 for that index must see the new data, not the value published before it.
        a.mov(al, 0x43); a.@out((byte)0x70, al);
        a.@in(al, (byte)0x71);
        a.mov(dx, (ushort)0x70); a.mov(ax, (ushort)0x7743); a.@out(dx, ax);
        a.@in(al, (byte)0x71);
        a.cmp(al, 0x77); a.jne(fail);
        // Test device: two batched data ports interleaved; the synchronous hash read sees them in guest order.
        for (int i = 0; i < 10; i++)
        {
            a.mov(dx, (ushort)(IoWorkloads.TestBase + 2 + (i & 1)));
            a.mov(al, (byte)(i * 17));
            a.@out(dx, al);
        }
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 4));
        a.@in(eax, dx);
        a.mov(ebx, eax);
        a.shr(eax, 16);
        a.xor(eax, ebx);
        a.xor(al, ah);
        a.and(al, 0x7F); // exit statuses are 8 bits: (v << 1) | 1
        a.@out((byte)0xF4, al);
        a.Label(ref fail);
        a.mov(al, IoWorkloads.Failed);
        a.@out((byte)0xF4, al);
        byte[] guest = g.Build();

        uint hash = 2166136261;
        for (int i = 0; i < 10; i++) hash = Fold(hash, ((uint)(2 + (i & 1)) << 24) ^ (byte)(i * 17));
        uint x = (hash >> 16) ^ hash;
        byte expected = (byte)((x ^ (x >> 8)) & 0x7F);
        Assert.NotEqual(IoWorkloads.Failed, expected);

        foreach (var (io, state) in IoRuns.AllModes)
        {
            var r = await IoRuns.RunAsync(guest, io, state);
            Assert.True(r.Status == Status(expected), $"{io}/{state}: status {r.Status}, expected {Status(expected)}\n{r.Describe}");
            Assert.Equal("AB", r.Serial);
            if (io == "batched") Assert.True(r.Count("batchedWrites") >= 15, $"batched writes {r.Count("batchedWrites")}");
        }
    }

    [Fact]
    public async Task A_full_ring_is_flushed_in_order()
    {
        const int writes = 1000;
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), fail = a.CreateLabel();
        a.mov(ecx, writes);
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 2));
        a.Label(ref top);
        a.mov(al, cl);
        a.@out(dx, al);
        a.dec(ecx);
        a.jnz(top);
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 8));
        a.@in(eax, dx);
        a.cmp(eax, writes);
        a.jne(fail);
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 4));
        a.@in(eax, dx);
        a.mov(ebx, eax);
        a.shr(eax, 16);
        a.xor(eax, ebx);
        a.xor(al, ah);
        a.and(al, 0x7F); // exit statuses are 8 bits: (v << 1) | 1
        a.@out((byte)0xF4, al);
        a.Label(ref fail);
        a.mov(al, IoWorkloads.Failed);
        a.@out((byte)0xF4, al);
        byte[] guest = g.Build();

        uint hash = 2166136261;
        for (int i = writes; i > 0; i--) hash = Fold(hash, (2u << 24) ^ (byte)i);
        uint x = (hash >> 16) ^ hash;
        byte expected = (byte)((x ^ (x >> 8)) & 0x7F);

        var naive = await IoRuns.RunAsync(guest, "naive", "cached");
        Assert.True(naive.Status == Status(expected), $"naive: status {naive.Status}, expected {Status(expected)}\n{naive.Describe}");
        var r = await IoRuns.RunAsync(guest, "batched", "cached", true, "--flush-us", "1000000");
        Assert.True(r.Status == Status(expected), $"status {r.Status}, expected {Status(expected)}\n{r.Describe}");
        Assert.Equal(writes, r.Count("batchedWrites"));
        Assert.Equal(writes / 60, r.Flushes("full"));
        Assert.Equal(1, r.Flushes("sync-access")); // the 40 left go with the count read
        Assert.Equal(writes / 60 + 3, r.Stats.GetProperty("roundTrips").GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task The_latency_timer_delivers_batched_output_while_the_guest_computes()
    {
        // Prints (LSR cached, THR batched: no round trip at all), then loops without I/O for ever.
        var g = new GuestAssembler();
        g.Print("ping\r\n");
        Label spin = g.Asm.CreateLabel();
        g.Asm.nop();
        g.Asm.Label(ref spin);
        g.Asm.jmp(spin);
        string kernel = TempDir.WriteImage(g.Build());
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats, "--flush-us", "5000"]);
        await run.WaitUntilAsync(() => run.Stdout.Contains("ping"), "the output through the latency timer", TimeSpan.FromSeconds(20));
        using (var p = System.Diagnostics.Process.GetProcessById(run.Pid)) Assert.False(p.HasExited);
        Assert.Equal(0, Kill(run.Pid, 2)); // SIGINT: virt ends the VM and still writes its statistics
        Assert.Equal(130, await run.WaitAsync());
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats));
        var flushes = doc.RootElement.GetProperty("flushes");
        Assert.True(flushes.TryGetProperty("timer", out var t) && t.GetInt64() >= 1, doc.RootElement.ToString());
        Assert.Equal(1, doc.RootElement.GetProperty("roundTrips").GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_halting_vcpu_flushes_the_ring()
    {
        // Prints with no round trip, then halts with interrupts on (nothing will wake it).
        var g = new GuestAssembler();
        g.Print("halting\r\n");
        g.Asm.sti();
        Label halt = g.Asm.CreateLabel();
        g.Asm.Label(ref halt);
        g.Asm.hlt();
        g.Asm.jmp(halt);
        string kernel = TempDir.WriteImage(g.Build());
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        // A latency bound far longer than the test: only the halt can deliver the output.
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--stats", stats, "--flush-us", "1000000"]);
        await run.WaitUntilAsync(() => run.Stdout.Contains("halting"), "the output flushed at HLT", TimeSpan.FromSeconds(20));
        Assert.Equal(0, Kill(run.Pid, 2));
        Assert.Equal(130, await run.WaitAsync());
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats));
        var flushes = doc.RootElement.GetProperty("flushes");
        Assert.True(flushes.TryGetProperty("halt", out var h) && h.GetInt64() == 1, doc.RootElement.ToString());
        Assert.False(flushes.TryGetProperty("timer", out _), doc.RootElement.ToString());
    }
}
