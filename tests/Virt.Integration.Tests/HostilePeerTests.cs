using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;
using Virt.Shared.Control;

namespace Virt.Integration.Tests;

/// <summary>
/// Peers that hold the secret but misbehave on the control socket (issue 13, classes 2, 6 and 7):
/// abandoned handshakes free what they were given, limits refuse instead of exhausting the
/// monitor, the peer's pid comes from the kernel, wrapping claims are refused.
/// </summary>
public class HostilePeerTests
{
    private static async Task<(VirtRun Run, string Dir, string Socket, byte[] Secret)> StartAsync(params string[] extra)
    {
        string kernel = TempDir.WriteImage(TestGuests.TickForever());
        var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", .. extra]);
        await run.WaitUntilAsync(() => run.LeftoverVmDirectories().Any(d => File.Exists(Path.Combine(d, "control.sock"))), "the control socket");
        string dir = run.LeftoverVmDirectories().Single();
        await run.WaitUntilAsync(() => File.Exists(Path.Combine(dir, "secret")) && new FileInfo(Path.Combine(dir, "secret")).Length == 64, "the secret");
        return (run, dir, Path.Combine(dir, "control.sock"), Convert.FromHexString(File.ReadAllText(Path.Combine(dir, "secret"))));
    }

    private static Task SendHelloAsync(ControlConnection c, byte[] secret, string name = "hostile", int pid = 0) =>
        c.SendAsync(new Hello(Protocol.Version, Features.IrqLines, secret, name, pid == 0 ? Environment.ProcessId : pid).ToFrame());

    private static async Task<(MessageType Type, byte[] Payload)> ReceiveAsync(ControlConnection c) =>
        await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? throw new IOException("the monitor closed the connection");

    /// <summary>Connects; a full listen backlog (EAGAIN on a Unix socket) is retried, as the accept loop drains it.</summary>
    private static async Task<ControlConnection> ConnectRetryingAsync(string socket)
    {
        for (int attempt = 0; ; attempt++)
        {
            try { return await ControlConnection.ConnectAsync(socket); }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.WouldBlock && attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }

    private static int FdCount(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    /// <summary>What the descriptors are, grouped (for a failure message).</summary>
    private static string DescribeFds(int pid) => string.Join(", ", Directory.GetFiles($"/proc/{pid}/fd")
        .Select(f => { try { return Regex.Replace(new FileInfo(f).LinkTarget ?? "?", @"\d+", "N"); } catch (IOException) { return "?"; } })
        .GroupBy(t => t).Select(g => $"{g.Key} x{g.Count()}"));

    // The comm regions are memfds: their mappings show as "/memfd:comm-N (deleted)".
    private static int CommMappings(int pid) => File.ReadLines($"/proc/{pid}/maps").Count(l => l.Contains("comm-", StringComparison.Ordinal));

    private static long RssKiB(int pid) =>
        long.Parse(Regex.Match(File.ReadAllText($"/proc/{pid}/status"), @"VmRSS:\s+(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_thousand_abandoned_handshakes_release_every_comm_file_mapping_and_descriptor()
    {
        var (run, dir, socket, secret) = await StartAsync("--dm", "none");
        using var _ = run;
        async Task AbandonAsync()
        {
            // Connect, say Hello, take the Welcome (the monitor has made a comm file and mapped it), go away.
            // The monitor sees each close a moment later; while it has 4 handshakes pending it answers Busy: try again.
            for (int attempt = 0; ; attempt++)
            {
                await using var c = await ConnectRetryingAsync(socket);
                await SendHelloAsync(c, secret);
                var reply = await ReceiveAsync(c);
                if (reply.Type == MessageType.Welcome) return;
                Assert.True(reply.Type == MessageType.Refused && Refused.Read(reply.Payload).Code == RefusalCode.Busy && attempt < 1000, $"reply {reply.Type}");
                await Task.Delay(10);
            }
        }
        // A few first, so the runtime's own descriptors (socket engine, thread pool) exist before the count.
        for (int i = 0; i < 20; i++) await AbandonAsync();
        await Task.Delay(1000);
        int fdsBefore = FdCount(run.Pid);
        long rssBefore = RssKiB(run.Pid);

        const int Cycles = 1000;
        for (int i = 0; i < Cycles; i++) await AbandonAsync();

        // The monitor frees them when it sees each connection close: wait for that, with time to spare on a loaded machine.
        var sw = Stopwatch.StartNew();
        while ((Directory.GetFiles(dir, "comm-*").Length > 0 || CommMappings(run.Pid) > 0 || FdCount(run.Pid) > fdsBefore + 8) && sw.Elapsed < TimeSpan.FromSeconds(60))
            await Task.Delay(100);
        int fdsAfter = FdCount(run.Pid);
        long rssAfter = RssKiB(run.Pid);
        Assert.True(Directory.GetFiles(dir, "comm-*").Length == 0, $"comm files left: {Directory.GetFiles(dir, "comm-*").Length}");
        Assert.True(CommMappings(run.Pid) == 0, $"comm mappings left: {CommMappings(run.Pid)}");
        // A few descriptors may come and go with the runtime (thread pool, epoll); 1,000 leaked handshakes were 1,000s.
        Assert.True(fdsAfter <= fdsBefore + 8, $"descriptors {fdsBefore} before, {fdsAfter} after {Cycles} abandoned handshakes");
        // Each leaked handshake kept a 128 KiB comm region mapped and touched; 1,000 of them were 100+ MB. The GC's heap may grow a little.
        Assert.True(rssAfter - rssBefore < 64 * 1024, $"resident memory {rssBefore} KiB before, {rssAfter} KiB after");

        // And the VM is still fine: a management client gets its status.
        var (status, stdout, stderr) = await VirtCli.RunAsync(run.RuntimeDir, "list");
        Assert.True(status == 0 && stdout.Contains("running"), $"{stdout}\n{stderr}\n{run.Describe()}");
        Console.WriteLine($"fds {fdsBefore} -> {fdsAfter}, RSS {rssBefore} -> {rssAfter} KiB after {Cycles} abandoned handshakes");
    }

    [Fact]
    public async Task A_device_model_cannot_truncate_guest_ram_or_its_comm_file_under_the_monitor()
    {
        var (run, dir, socket, secret) = await StartAsync();
        using var _ = run;
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick"), "guest output");
        await using var c = await ControlConnection.ConnectAsync(socket);
        await SendHelloAsync(c, secret, "truncator");
        var welcome = await ReceiveAsync(c);
        Assert.Equal(MessageType.Welcome, welcome.Type);
        Welcome w = Welcome.Read(welcome.Payload);
        foreach (string name in new[] { w.RamFile, w.CommFile })
        {
            // What a hostile model does: open the shared file by its name and ftruncate it. The file is sealed.
            string path = Path.Combine(dir, name);
            using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            long size = fs.Length;
            Assert.True(size > 0, name);
            // .NET reports EPERM from ftruncate as UnauthorizedAccessException with the IOException inside.
            var e = Assert.ThrowsAny<Exception>(() => fs.SetLength(0));
            Assert.Contains("not permitted", (e.InnerException ?? e).Message, StringComparison.OrdinalIgnoreCase);
            Assert.ThrowsAny<Exception>(() => fs.SetLength(size + 4096)); // nor grow it (F_SEAL_GROW)
            Assert.Equal(size, fs.Length);
        }
        // The monitor goes on: the guest keeps printing through virt-dm, and the truncator can even finish attaching.
        await c.SendAsync(Ready.ToFrame());
        await run.WaitUntilAsync(() => run.Stderr.Contains("'truncator' (pid"), "the truncator attached");
        int ticks = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > ticks + 2, "more guest output");
        var (status, stdout, stderr) = await VirtCli.RunAsync(run.RuntimeDir, "list");
        Assert.True(status == 0 && stdout.Contains("running"), $"{stdout}\n{stderr}\n{run.Describe()}");
    }

    [Fact]
    public async Task Detached_swapped_and_failed_models_release_their_mappings_and_descriptors()
    {
        var (run, _, _, _) = await StartAsync();
        using var _ = run;
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick"), "guest output");
        string vm = run.Pid.ToString(CultureInfo.InvariantCulture);
        async Task Cli(params string[] args)
        {
            var (status, stdout, stderr) = await VirtCli.RunAsync(run.RuntimeDir, args);
            Assert.True(status == 0, $"virt {string.Join(' ', args)}: {status} {stdout} {stderr}\n{run.Describe()}");
        }
        const string Harness = "virt-harness --debugcon 0x402 --exit none --scratch none";
        await Cli("attach", vm, "--dm", Harness);
        await Cli("detach", vm, "virt-harness");
        await Task.Delay(1000);
        int fdsBefore = FdCount(run.Pid);

        const int Cycles = 8;
        for (int i = 0; i < Cycles; i++)
        {
            await Cli("attach", vm, "--dm", Harness);
            await Cli("detach", vm, "virt-harness");
            await Cli("attach", vm, "--dm", "virt-dm", "--replace", "virt-dm"); // a swap
        }
        // And a failed one: killed, then replaced (its region goes at the VCPU's next checkpoint).
        VirtCli.Signal(int.Parse(Regex.Matches(run.Stderr, @"device model \d+ 'virt-dm' \(pid (\d+)\) attached").Last().Groups[1].Value, CultureInfo.InvariantCulture), "KILL");
        await run.WaitUntilAsync(() => run.Stderr.Contains("the guest is paused until a device model attaches"), "the pause");
        await Cli("attach", vm, "--dm", "virt-dm");
        int ticks = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > ticks + 2, "guest output after the replacement");

        var sw = Stopwatch.StartNew();
        while ((CommMappings(run.Pid) > 1 || FdCount(run.Pid) > fdsBefore + 8) && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
        Assert.True(CommMappings(run.Pid) == 1, $"comm mappings: {CommMappings(run.Pid)} (only the active virt-dm's should be left)");
        int fdsAfter = FdCount(run.Pid);
        Assert.True(fdsAfter <= fdsBefore + 8, $"descriptors {fdsBefore} before, {fdsAfter} after {Cycles} attach/detach/swap cycles and a replacement: {DescribeFds(run.Pid)}");
    }

    [Fact]
    public async Task Handshakes_and_names_are_bounded_and_refused_with_a_reason()
    {
        var (run, _, socket, secret) = await StartAsync("--dm", "none");
        using var _ = run;

        // Pending handshakes (Hello, no Ready): the first few are welcomed, then Busy.
        var held = new List<ControlConnection>();
        try
        {
            MessageType last = MessageType.Welcome;
            for (int i = 0; i < 10 && last == MessageType.Welcome; i++)
            {
                var c = await ControlConnection.ConnectAsync(socket);
                held.Add(c);
                await SendHelloAsync(c, secret, $"pending{i}");
                var reply = await ReceiveAsync(c);
                last = reply.Type;
                if (last == MessageType.Refused)
                {
                    Refused r = Refused.Read(reply.Payload);
                    Assert.Equal(RefusalCode.Busy, r.Code);
                    Assert.Contains("between Hello and Ready", r.Reason);
                }
            }
            Assert.Equal(MessageType.Refused, last);
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }

        // Names: at most 64 characters, no control characters.
        foreach (string name in new[] { new string('n', 65), "evil\nname", "" })
        {
            await using var c = await ControlConnection.ConnectAsync(socket);
            await SendHelloAsync(c, secret, name);
            var reply = await ReceiveAsync(c);
            Assert.Equal(MessageType.Refused, reply.Type);
            Assert.Contains("device model name", Refused.Read(reply.Payload).Reason);
        }

        // Connections that never say anything: bounded too (each would otherwise wait out its 5 s).
        var silent = new List<ControlConnection>();
        try
        {
            bool refused = false;
            for (int i = 0; i < 40 && !refused; i++)
            {
                var c = await ConnectRetryingAsync(socket);
                silent.Add(c);
                if (i >= 20)
                {
                    // Beyond the limit the monitor answers at once with Busy and closes.
                    var t = c.ReceiveAsync();
                    if (await Task.WhenAny(t, Task.Delay(2000)) == t && await t is { Type: MessageType.Refused } f)
                        refused = Refused.Read(f.Payload).Code == RefusalCode.Busy;
                }
            }
            Assert.True(refused, "no connection was refused as Busy");
        }
        finally
        {
            foreach (var c in silent) await c.DisposeAsync();
        }

        // After all that, a well-behaved handshake still works (the slots were freed).
        var sw = Stopwatch.StartNew();
        while (true)
        {
            await using var c = await ControlConnection.ConnectAsync(socket);
            await SendHelloAsync(c, secret, "good");
            var reply = await ReceiveAsync(c);
            if (reply.Type == MessageType.Welcome) break;
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"still refused: {Refused.Read(reply.Payload).Reason}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task Random_frames_at_the_control_socket_are_refused_and_the_monitor_survives()
    {
        // A bounded fuzz run (fixed seed and count, so CI sees the same cases): random frames, with and
        // without a valid Hello or Manage first, truncated frames and raw bytes, while the guest prints.
        var (run, dir, socket, secret) = await StartAsync();
        using var _ = run;
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick"), "guest output");
        var rng = new Random(1313);
        const int Cases = 300;
        int refusals = 0, closes = 0, answered = 0;
        for (int i = 0; i < Cases; i++)
        {
            await using var c = await ConnectRetryingAsync(socket);
            var stream = new NetworkStreamWriter(c);
            int kind = rng.Next(5);
            if (kind == 1) await SendHelloAsync(c, secret, $"fuzz{i}");
            if (kind == 2) await c.SendAsync(new Manage(Protocol.Version, secret, $"fuzz{i}").ToFrame());
            int frames = rng.Next(1, 6);
            for (int f = 0; f < frames; f++)
            {
                if (kind == 3)
                {
                    // Raw bytes: a header with a length, type and reserved field that may be anything.
                    byte[] raw = new byte[rng.Next(1, 64)];
                    rng.NextBytes(raw);
                    await stream.RawAsync(raw);
                    continue;
                }
                var type = (MessageType)rng.Next(0, 20);
                // Not Ready after a good Hello (a model that becomes active and then vanishes pauses the guest by design),
                // and no attach or detach requests on a management connection (they would start or stop real models).
                if ((kind == 1 && type == MessageType.Ready) || (kind == 2 && type is MessageType.AttachRequest or MessageType.DetachRequest))
                    type = MessageType.StatusRequest;
                byte[] payload = new byte[rng.Next(0, 120)];
                rng.NextBytes(payload);
                if (type == MessageType.Claim && payload.Length >= 25 && rng.Next(2) == 0)
                    payload = new Claim((uint)i, (byte)rng.Next(3), (ulong)rng.NextInt64(), (ulong)rng.NextInt64() | (rng.Next(2) == 0 ? ulong.MaxValue : 0), (uint)rng.Next(16), "fz").ToFrame()[8..].ToArray();
                byte[] frame = new byte[8 + payload.Length];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), (ushort)type);
                payload.CopyTo(frame, 8);
                await stream.RawAsync(kind == 4 && f == frames - 1 ? frame[..rng.Next(1, frame.Length)] : frame); // kind 4 ends mid-frame
            }
            // Read what the monitor says until it closes or goes quiet.
            while (true)
            {
                var t = c.ReceiveAsync();
                if (await Task.WhenAny(t, Task.Delay(300)) != t) break;
                (MessageType Type, byte[] Payload)? reply;
                try { reply = await t; }
                catch (Exception e) when (e is ProtocolException or IOException or System.Net.Sockets.SocketException) { closes++; break; }
                if (reply is null) { closes++; break; }
                answered++;
                if (reply.Value.Type == MessageType.Refused) refusals++;
            }
        }
        // Still running, still printing, still managed; every abandoned handshake freed.
        int ticks = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > ticks + 2, "guest output after the fuzz run");
        var (status, stdout, stderr) = await VirtCli.RunAsync(run.RuntimeDir, "list");
        Assert.True(status == 0 && stdout.Contains("running"), $"{stdout}\n{stderr}\n{run.Describe()}");
        var sw = Stopwatch.StartNew();
        while (Directory.GetFiles(dir, "comm-*").Length > 1 && sw.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
        Assert.Single(Directory.GetFiles(dir, "comm-*")); // virt-dm's only
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
        Console.WriteLine($"control socket fuzz: {Cases} cases, {answered} answers, {refusals} refusals, {closes} closes by the monitor, 0 crashes");
    }

    /// <summary>Raw bytes on a control connection (the framing of ControlConnection bypassed).</summary>
    private sealed class NetworkStreamWriter(ControlConnection c)
    {
        public async Task RawAsync(byte[] bytes)
        {
            try { await c.Socket.SendAsync(bytes, System.Net.Sockets.SocketFlags.None); }
            catch (System.Net.Sockets.SocketException) { } // the monitor closed already: fine
        }
    }

    [Fact]
    public async Task A_port_claim_whose_length_wraps_is_refused()
    {
        var (run, _, socket, secret) = await StartAsync("--dm", "none");
        using var _ = run;
        await using var c = await ControlConnection.ConnectAsync(socket);
        await SendHelloAsync(c, secret);
        Assert.Equal(MessageType.Welcome, (await ReceiveAsync(c)).Type);
        foreach (var (space, start, length) in new (byte, ulong, ulong)[] { (0, 0x3F0, ulong.MaxValue), (0, 0x3F0, ulong.MaxValue - 0x3EF), (0, 0x1_0000, 1), (1, 0xFED0_0000, ulong.MaxValue), (1, 0x1_0000_0000, 0x1000) })
        {
            await c.SendAsync(new Claim(1, space, start, length, 0, "wrap").ToFrame());
            var reply = await ReceiveAsync(c);
            ClaimResult r = ClaimResult.Read(reply.Payload);
            Assert.False(r.Accepted, $"claim {space} 0x{start:X}+0x{length:X} accepted");
            Assert.Contains("goes past", r.Reason);
        }
    }

    [Fact]
    public async Task The_pid_in_hello_is_ignored_so_detaching_a_spoofer_kills_nobody_else()
    {
        // The real virt-dm serves the guest; a client that says Hello with virt-dm's pid must not become it.
        var (run, _, socket, secret) = await StartAsync();
        using var _ = run;
        await run.WaitUntilAsync(() => run.Stdout.Contains("tick") && Regex.IsMatch(run.Stderr, @"device model pid \d+"), "guest output");
        int dmPid = int.Parse(Regex.Match(run.Stderr, @"device model pid (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

        await using var c = await ControlConnection.ConnectAsync(socket);
        await SendHelloAsync(c, secret, "spoofer", pid: dmPid);
        Assert.Equal(MessageType.Welcome, (await ReceiveAsync(c)).Type);
        await c.SendAsync(Ready.ToFrame());
        await run.WaitUntilAsync(() => run.Stderr.Contains("'spoofer' (pid"), "the spoofer attached");
        // The monitor shows the pid the kernel gave it: this test process.
        Assert.Contains($"'spoofer' (pid {Environment.ProcessId})", run.Stderr);

        var (status, stdout, stderr) = await VirtCli.RunAsync(run.RuntimeDir, "detach", run.Pid.ToString(CultureInfo.InvariantCulture), "spoofer");
        Assert.True(status == 0, $"{stdout}\n{stderr}\n{run.Describe()}");
        await Task.Delay(1000); // the monitor's retire task would have killed it by now
        using (var dm = Process.GetProcessById(dmPid)) Assert.False(dm.HasExited, "detaching the spoofer killed virt-dm");
        int ticks = VirtCli.CountLines(run.Stdout);
        await run.WaitUntilAsync(() => VirtCli.CountLines(run.Stdout) > ticks + 2, "the guest still printing through virt-dm");
    }

    [Fact]
    public async Task Virt_attach_of_a_process_that_never_says_hello_times_out_and_kills_it()
    {
        var (run, _, _, _) = await StartAsync("--dm", "none");
        using var _ = run;
        string vm = run.Pid.ToString(CultureInfo.InvariantCulture);
        // One never connects; the other connects and then says nothing. Both are attached at once (the timeout is 30 s each).
        string dir = TempDir.Create("virt-silent");
        string silent = Path.Combine(dir, "silent-dm.py");
        File.WriteAllText(silent, """
            #!/usr/bin/env python3
            import os, socket, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.environ["VIRT_DM_SOCKET"])
            open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "connected"), "w").close()
            time.sleep(600)
            """);
        File.SetUnixFileMode(silent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var sw = Stopwatch.StartNew();
        var never = VirtCli.RunAsync(run.RuntimeDir, "attach", vm, "--dm", "/bin/sleep 600");
        var mute = VirtCli.RunAsync(run.RuntimeDir, "attach", vm, "--dm", silent);
        foreach (var (status, stdout, stderr) in await Task.WhenAll(never, mute))
        {
            Assert.True(status == 1, $"attach: {status} {stdout} {stderr}\n{run.Describe()}");
            Assert.Contains("did not attach within 30 s", stderr);
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(85), $"attach took {sw.Elapsed}"); // bounded by the timeout, not by the process's life (600 s)
        Assert.True(File.Exists(Path.Combine(dir, "connected")), "the silent device model never connected");
        // Both processes are gone (killed by the monitor), and the VM goes on.
        using var ps = Process.Start(new ProcessStartInfo("pgrep", ["-f", silent]) { RedirectStandardOutput = true })!;
        string left = await ps.StandardOutput.ReadToEndAsync();
        await ps.WaitForExitAsync();
        Assert.True(left.Trim().Length == 0, $"still running: {left}");
        var (listStatus, list, _) = await VirtCli.RunAsync(run.RuntimeDir, "list");
        Assert.True(listStatus == 0 && list.Contains("running"), list);
    }

    [Fact]
    public async Task Platform_events_from_a_range_not_claimed_for_them_are_refused_and_the_end_names_the_model()
    {
        // The Python model from the docs, changed to answer its port's write with StopVm (0x21) and its read
        // with PlatformEvent Reset: neither range was claimed with PlatformEvents, so both are ordinary completions.
        string script = Path.Combine(TempDir.Create("virt-py"), "hostile_dm.py");
        string original = File.ReadAllText(Path.Combine(VirtCli.PythonDir(), "echo_dm.py"));
        const string ok = "            status = STATUS_OK\n";
        Assert.Contains(ok, original);
        File.WriteAllText(script, original.Replace(ok, """
                        status = 5 if direction == 1 else 4
                        page.put_u32(0x124, 1 if direction == 1 else 0x21)

            """));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string kernel = TempDir.WriteImage(DeviceModelGuests.PythonEcho());
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "virt-dm", "--dm", script, "--stats", stats]);
        int status = await run.WaitAsync();
        // The guest went on: it read 0x42 back and wrote it to virt-dm's exit port (0x42 << 1) | 1; a StopVm honoured would have been 0x43.
        Assert.True(status == 0x85, $"status {status}\n{run.Describe()}");
        Assert.Contains("device model 1 'virt-dm' ended the VM with value 0x42, at the guest's access to 'debug-exit' (port 0xF4)", run.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats));
        Assert.True(json.RootElement.GetProperty("refused").TryGetProperty("platform-event", out var n) && n.GetInt64() >= 2, $"{json.RootElement.GetProperty("refused")}\n{run.Describe()}");
    }

    [Theory]
    [InlineData(0x7E, 253)]
    [InlineData(0x7F, 255)]
    [InlineData(0x80, 255)] // (0x80 << 1) | 1 = 0x101 would have been cut to 1 (the status of v = 0)
    [InlineData(0xFF, 255)]
    public async Task Guest_exit_values_too_large_for_a_status_saturate_at_255(byte value, int expected)
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("bye\r\n", value));
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M"]);
        int status = await run.WaitAsync();
        Assert.True(status == expected, $"status {status}\n{run.Describe()}");
        Assert.Contains($"0x{value:X}", run.Stderr); // the exact value is still reported
    }
}
