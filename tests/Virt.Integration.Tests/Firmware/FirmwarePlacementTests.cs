using System.Text.Json;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Firmware;

/// <summary>
/// `virt run --place com1=firmware` (docs/firmware-reflection.md): COM1 emulated by the guest's own
/// firmware, built from guests/firmware_uart.c, its output where --serial says, virt-dm launched
/// without com1; and the option's misuse refused with a message before anything runs.
/// </summary>
public sealed class FirmwarePlacementTests
{
    [Fact]
    public async Task A_guest_prints_through_the_firmware_uart_to_the_serial_file_with_no_exit_to_the_device_model()
    {
        string dir = TempDir.Create("virt-fw");
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("hello from the firmware uart\r\n", 3));
        string serial = Path.Combine(dir, "com1.txt"), stats = Path.Combine(dir, "stats.json");
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--place", "com1=firmware", "--serial", "file:" + serial, "--stats", stats]);
        int status = await run.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(status == (3 << 1 | 1), $"status {status}\n{run.Describe()}");
        Assert.Equal("hello from the firmware uart\r\n", File.ReadAllText(serial));
        Assert.DoesNotContain("com1", run.Stderr);                       // virt-dm attached without it
        using var json = JsonDocument.Parse(File.ReadAllText(stats));
        JsonElement fw = json.RootElement.GetProperty("firmware");
        Assert.InRange(fw.GetProperty("reflections").GetInt64(), 30, 10_000); // a THR write and an LSR read per character
        Assert.True(fw.GetProperty("handlerInstructions").GetInt64() > fw.GetProperty("reflections").GetInt64());
        Assert.True(fw.GetProperty("monitorCalls").GetInt64() >= 1);     // the line, in one batch
        Assert.Equal(JsonValueKind.Null, fw.GetProperty("failure").ValueKind);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task Com1_in_firmware_and_in_virt_dm_at_once_is_refused()
    {
        using var run = VirtRun.Start(["run", "--demo", "--place", "com1=firmware", "--dm-arg", "--devices", "--dm-arg", "com1,rtc"]);
        int status = await run.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains("com1 cannot be in both", run.Stderr);
    }
}
