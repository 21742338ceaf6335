using System.Text.Json;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Guests;

namespace Virt.Integration.Tests;

/// <summary>virt run with the real virt-dm: guests print through the UART and end through port 0xF4.</summary>
public class RunTests
{
    [Theory]
    [InlineData(0x00)]
    [InlineData(0x2A)]
    public async Task Guest_prints_through_the_uart_and_exits_with_its_status(byte value)
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit($"hello from guest {value}\r\n", value));
        string stats = Path.Combine(Path.GetDirectoryName(kernel)!, "stats.json");
        // --io naive: every UART access is a round trip (batching has its own tests in Io/).
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", stats, "--io", "naive"]);
        int status = await run.WaitAsync();
        Assert.True(status == ((value << 1) | 1), $"status {status}\n{run.Describe()}");
        Assert.Contains($"hello from guest {value}", run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());

        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement root = json.RootElement;
        Assert.Equal("exit-port", root.GetProperty("end").GetString());
        long roundTrips = root.GetProperty("roundTrips").GetProperty("count").GetInt64();
        Assert.True(roundTrips > 20, $"round trips {roundTrips}");
        Assert.True(root.GetProperty("roundTrips").GetProperty("p99Micros").GetDouble() > 0);
        var ports = root.GetProperty("ports").EnumerateArray().ToDictionary(p => p.GetProperty("port").GetInt32());
        Assert.Equal("com1", ports[0x3F8].GetProperty("device").GetString());
        Assert.Equal(1, ports[0xF4].GetProperty("writes").GetInt64());
        Assert.Equal(0, root.GetProperty("refusedTotal").GetInt64());
    }

    [Fact]
    public async Task Demo_prints_the_rtc_and_reports_exits()
    {
        using var run = VirtRun.Start(["run", "--demo"]);
        int status = await run.WaitAsync();
        Assert.True(status == 1, run.Describe());
        Assert.Contains("Hello from the virt demo guest", run.Stdout);
        Assert.Matches(@"RTC time \(UTC\): \d\d:\d\d:\d\d", run.Stdout);
        Assert.Contains("round trips", run.Stderr);
        Assert.Contains("p99", run.Stderr);
    }

    [Fact]
    public async Task Serial_to_a_file()
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("to the file\r\n", 3));
        string log = Path.Combine(Path.GetDirectoryName(kernel)!, "com1.log");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--serial", "file:" + log, "-q"]);
        Assert.Equal(7, await run.WaitAsync());
        Assert.Contains("to the file", File.ReadAllText(log));
        Assert.DoesNotContain("to the file", run.Stdout);
    }

    [Fact]
    public async Task Triple_fault_ends_with_a_clear_message_and_status_6()
    {
        string kernel = TempDir.WriteImage(TestGuests.TripleFault());
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        int status = await run.WaitAsync();
        Assert.True(status == 6, $"status {status}\n{run.Describe()}");
        Assert.Contains("shut down", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task Bad_options_and_bad_images_are_clear_errors()
    {
        string notElf = TempDir.WriteImage("just text, not a kernel"u8.ToArray(), "kernel.txt");
        using (var run = VirtRun.Start(["run", "--kernel", notElf]))
        {
            Assert.Equal(2, await run.WaitAsync());
            Assert.Contains("no Multiboot header", run.Stderr);
            Assert.Empty(run.LeftoverVmDirectories());
        }
        byte[] noHeader = MultibootImage.Wrap([0xF4]);
        noHeader[0x60] = 0; // break the Multiboot magic
        using (var run = VirtRun.Start(["run", "--kernel", TempDir.WriteImage(noHeader)]))
        {
            Assert.Equal(2, await run.WaitAsync());
            Assert.Contains("no Multiboot header", run.Stderr);
        }
        using (var run = VirtRun.Start(["run", "--demo", "-m", "lots"]))
        {
            Assert.Equal(2, await run.WaitAsync());
            Assert.Contains("-m lots", run.Stderr);
        }
        using (var run = VirtRun.Start(["run", "--kernel", "/nonexistent/kernel"]))
        {
            Assert.Equal(2, await run.WaitAsync());
            Assert.Contains("no such file", run.Stderr);
        }
    }
}
