using System.Diagnostics;
using System.Text.Json;
using Virt.Integration.Tests.Support;
using Virt.Shared.Control;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>
/// The devices' own counters in the run's report: the monitor's devices in process, each device
/// model's through MetricsRequest / MetricsReport (docs/control-protocol.md), under the device's name.
/// </summary>
public class DeviceCounterTests
{
    [Theory]
    [InlineData("batched")]
    [InlineData("naive")]
    public async Task Com1_reports_the_bytes_the_guest_printed(string io)
    {
        const string text = "counted, byte by byte\r\n";
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit(text, 3));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", stats, "--io", io]);
        int status = await run.WaitAsync();
        Assert.True(status == 7, $"status {status}\n{run.Describe()}");

        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement devices = json.RootElement.GetProperty("devices");
        JsonElement com1 = devices.GetProperty("com1");
        Assert.Equal(text.Length, com1.GetProperty("tx_bytes").GetInt64());
        Assert.Equal(0, com1.GetProperty("rx_overruns").GetInt64());
        Assert.Equal(0, com1.GetProperty("missed_reads").GetInt64());
        // Every device of virt-dm and of the monitor reports, zero counters included.
        foreach (string name in new[] { "debugcon", "rtc", "i8042", "pci", "pic", "pit", "lapic", "ioapic" })
            Assert.True(devices.TryGetProperty(name, out _), $"no '{name}' in {devices}");
        Assert.Equal(0, devices.GetProperty("debugcon").GetProperty("bytes").GetInt64());

        // The table: one line per device with a counter above zero.
        Assert.Contains("devices:", run.Stderr);
        Assert.Matches($@"\n  com1 +\(device model 1 'virt-dm'\) +tx_bytes {text.Length}\b", run.Stderr);
        Assert.DoesNotMatch(@"\n  debugcon ", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    public enum Peer { Answers, Silent, NotOffered }

    /// <summary>
    /// A raw client as the device model (`--dm external`): a model that offered Features.DeviceMetrics
    /// is asked at the end of the run; what it answers is reported under its devices' names, a silent
    /// one is left out after a bounded wait, and one that did not offer the feature is not asked at all.
    /// </summary>
    [Theory]
    [InlineData(Peer.Answers)]
    [InlineData(Peer.Silent)]
    [InlineData(Peer.NotOffered)]
    public async Task A_device_model_is_asked_for_its_counters_at_the_end_and_a_silent_one_is_left_out(Peer peer)
    {
        string kernel = TempDir.WriteImage(TestGuests.HaltNoIo());
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "external", "--stats", stats]);
        await run.WaitUntilAsync(() => run.LeftoverVmDirectories().Any(d => File.Exists(Path.Combine(d, "control.sock"))), "the control socket");
        string dir = run.LeftoverVmDirectories().Single();
        byte[] secret = Convert.FromHexString(File.ReadAllText(Path.Combine(dir, "secret")));

        await using var dm = await ControlConnection.ConnectAsync(Path.Combine(dir, "control.sock"));
        Features offered = Features.IrqLines | (peer == Peer.NotOffered ? Features.None : Features.DeviceMetrics);
        await dm.SendAsync(new Hello(Protocol.Version, offered, secret, "raw-counters", Environment.ProcessId).ToFrame());
        var welcome = await dm.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MessageType.Welcome, welcome!.Value.Type);
        Assert.Equal(offered, Welcome.Read(welcome.Value.Payload).Features);
        await dm.SendAsync(Ready.ToFrame());

        // The guest halts with interrupts off: the run ends by itself. The clock starts before the
        // request can arrive, so that however late this test reads it, the time to the Shutdown is
        // at least the monitor's wait for a silent model (started when it read the message, it fell
        // to 0.35 s once, on a loaded machine, where this process was slow to read it).
        var waited = Stopwatch.StartNew();
        var next = await dm.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (peer == Peer.NotOffered)
        {
            Assert.Equal(MessageType.Shutdown, next!.Value.Type);
        }
        else
        {
            Assert.Equal(MessageType.MetricsRequest, next!.Value.Type);
            Assert.Empty(next.Value.Payload);
            if (peer == Peer.Answers)
                await dm.SendAsync(new MetricsReport([new("raw-dev", "frames", 42), new("raw-dev", "errors", 0), new("pic", "clashes", 1)]).ToFrame());
            var shutdown = await dm.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(MessageType.Shutdown, shutdown!.Value.Type);
            if (peer == Peer.Silent)
                Assert.InRange(waited.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(30)); // Limits.MetricsTimeout, not for ever
        }
        Assert.Equal(0, await run.WaitAsync());

        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement devices = json.RootElement.GetProperty("devices");
        Assert.True(devices.TryGetProperty("pic", out _), devices.ToString()); // the monitor's own, whatever the model does
        if (peer == Peer.Answers)
        {
            Assert.Equal(42, devices.GetProperty("raw-dev").GetProperty("frames").GetInt64());
            Assert.Equal(0, devices.GetProperty("raw-dev").GetProperty("errors").GetInt64());
            // A name the monitor's PIC already has: the model's device is keyed with its attachment id.
            Assert.Equal(1, devices.GetProperty("pic#1").GetProperty("clashes").GetInt64());
        }
        else
        {
            Assert.False(devices.TryGetProperty("raw-dev", out _), devices.ToString());
        }
    }
}
