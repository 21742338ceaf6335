using System.Buffers.Binary;
using Iced.Intel;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.Linux;

/// <summary>
/// How the PC platform ends `virt run`: the reset paths that live in the device model (the
/// i8042's pulse, 0xCF9) reach the monitor as platform-event completions and end the run with
/// status 6 and a message; bad kernel images are refused with status 2 before anything starts.
/// </summary>
public class PlatformEndTests
{
    private static byte[] OutThenHalt(ushort port, byte value)
    {
        var g = new GuestAssembler().Print("resetting\r\n");
        Assembler a = g.Asm;
        a.mov(dx, port);
        a.mov(al, value);
        a.@out(dx, al);
        // Only reached if the reset did not end the run: a status 0 end, which the test refuses.
        a.cli();
        a.hlt();
        return g.Build();
    }

    [Theory]
    [InlineData(0x64, 0xFE, "i8042 pulse")]
    [InlineData(0xCF9, 0x06, "0xCF9 hard reset")]
    public async Task A_reset_from_the_device_model_ends_the_run_as_a_reboot(int port, int value, string what)
    {
        string kernel = TempDir.WriteImage(OutThenHalt((ushort)port, (byte)value));
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M"]);
        int status = await run.WaitAsync();
        Assert.True(status == 6, $"{what}: status {status}\n{run.Describe()}");
        Assert.Contains("reset the machine (reboot)", run.Stderr);
        Assert.Contains("resetting", run.Stdout);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task A_bzImage_with_an_old_boot_protocol_is_refused_clearly()
    {
        var image = new byte[8192];
        image[0x1F1] = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x1FE), 0xAA55);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x202), 0x5372_6448); // "HdrS"
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x206), 0x0201);
        string kernel = TempDir.WriteImage(image);
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "64M"]);
        int status = await run.WaitAsync();
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains("a Linux image, but boot protocol 2.01 is too old", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task A_kernel_that_is_neither_bzImage_nor_Multiboot_is_refused_clearly()
    {
        string kernel = TempDir.WriteImage(new byte[4096]);
        using var run = VirtRun.Start(["run", "--kernel", kernel]);
        int status = await run.WaitAsync();
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains("neither a Linux bzImage", run.Stderr);
        Assert.Contains("no Multiboot header", run.Stderr);
    }

    [Fact]
    public async Task A_bzImage_too_big_for_the_ram_is_refused_before_the_vm_starts()
    {
        var image = new byte[8192];
        image[0x1F1] = 4;
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x1FE), 0xAA55);
        image[0x201] = 0x66; // setup header ends at 0x268
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x202), 0x5372_6448);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x206), 0x020F);
        image[0x211] = 0x01; // LOADED_HIGH
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x214), 0x10_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x238), 2048);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x260), 64u << 20); // init_size 64 MiB
        string kernel = TempDir.WriteImage(image);
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "32M"]);
        int status = await run.WaitAsync();
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains("kernel needs 0x4000000 bytes at 1 MiB", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }
    [Fact]
    public async Task A_Multiboot_kernel_the_loader_refuses_ends_with_a_message_and_status_2()
    {
        // The header checks pass; only the loader, knowing the RAM size, sees that the segment
        // (linked at 64 MiB) lies beyond 16 MiB of RAM. That must not escape as an exception.
        var a = new Assembler(32);
        a.hlt();
        string kernel = TempDir.WriteImage(MultibootImage.Build(a, 0x400_0000));
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M"]);
        int status = await run.WaitAsync();
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains("beyond the end of guest RAM", run.Stderr);
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr); // no stack trace
        Assert.Empty(run.LeftoverVmDirectories());
    }
}
