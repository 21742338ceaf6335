using System.Buffers.Binary;
using System.Diagnostics;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Guests;

namespace Virt.Integration.Tests;

/// <summary>
/// Bad images and options (issue 13, class 3): every one is a one-line message and status 2, never
/// a .NET stack trace, a hang on a FIFO or a read of /dev/zero until memory runs out.
/// </summary>
public class BadInputTests
{
    // ELF32 header and program header fields of MultibootImage.Wrap's image (one PT_LOAD at 0x100000).
    private const int EIdentClass = 4, EMachine = 18, EEntry = 24, EPhoff = 28;
    private const int PhOffset = 52 + 4, PhVaddr = 52 + 8, PhPaddr = 52 + 12, PhFilesz = 52 + 16, PhMemsz = 52 + 20;
    private const int MbFlags = 0x64, MbChecksum = 0x68, MbHeaderAddr = 0x6C;

    private static byte[] Good() => MultibootImage.Wrap(new byte[64]); // zeros after the headers: never run

    private static byte[] With(Action<byte[]> patch)
    {
        byte[] f = Good();
        patch(f);
        return f;
    }

    private static void Put(byte[] f, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at), v);

    /// <summary>Sets the Multiboot flags and a checksum that matches them.</summary>
    private static void Flags(byte[] f, uint flags)
    {
        Put(f, MbFlags, flags);
        Put(f, MbChecksum, unchecked(0u - 0x1BAD_B002u - flags));
    }

    /// <summary>A Multiboot header with the a.out kludge (flag 16) and these address fields (the image's bytes 0x6C-0x7F).</summary>
    private static byte[] Aout(uint headerAddr, uint loadAddr, uint loadEnd, uint bssEnd, uint entry) => With(f =>
    {
        Flags(f, 0x1_0003);
        Put(f, MbHeaderAddr, headerAddr);
        Put(f, MbHeaderAddr + 4, loadAddr);
        Put(f, MbHeaderAddr + 8, loadEnd);
        Put(f, MbHeaderAddr + 12, bssEnd);
        Put(f, MbHeaderAddr + 16, entry);
    });

    public static readonly Dictionary<string, (byte[] Image, string Message)> Images = new()
    {
        ["elfclass64"] = (With(f => f[EIdentClass] = 2), "ELFCLASS64"),
        ["wrong-machine"] = (With(f => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(EMachine), 62)), "not i386"),
        ["program-headers-past-the-end"] = (With(f => Put(f, EPhoff, 0x10_0000)), "program headers"),
        ["program-headers-offset-wraps"] = (With(f => Put(f, EPhoff, 0xFFFF_FFF0)), "program headers"),
        ["segment-data-past-the-end"] = (With(f => Put(f, PhFilesz, 0x10_0000)), "exceeds memory size"),
        ["segment-offset-past-the-end"] = (With(f => Put(f, PhOffset, 0xFFFF_FF00)), "truncated ELF file"),
        ["segment-beyond-ram"] = (With(f => { Put(f, PhPaddr, 0x7F00_0000); Put(f, PhVaddr, 0x7F00_0000); Put(f, EEntry, 0x7F00_0070); }), "beyond the end of guest RAM"),
        ["segment-wraps-4-gib"] = (With(f => { Put(f, PhPaddr, 0xFFFF_F000); Put(f, PhVaddr, 0xFFFF_F000); Put(f, PhMemsz, 0x2000); }), "beyond the end of guest RAM"),
        ["entry-outside-every-segment"] = (With(f => Put(f, EEntry, 0x50_0000)), "in no PT_LOAD segment"),
        ["bad-multiboot-checksum"] = (With(f => Put(f, MbChecksum, 0)), "bad checksum"),
        ["video-mode-requested"] = (With(f => Flags(f, 0x7)), "video mode"),
        ["unknown-required-flags"] = (With(f => Flags(f, 0x8003)), "does not understand"),
        ["aout-load-above-header"] = (Aout(0x10_0060, 0x20_0000, 0, 0, 0x20_0000), "above header_addr"),
        ["aout-header-before-file-start"] = (Aout(0x10_1000, 0x10_0000, 0, 0, 0x10_0000), "bytes into the file"),
        ["aout-load-end-below-load"] = (Aout(0x10_0060, 0x10_0000, 0xF_0000, 0, 0x10_0000), "below load_addr"),
        ["aout-load-end-past-the-file"] = (Aout(0x10_0060, 0x10_0000, 0x20_0000, 0, 0x10_0000), "truncated file"),
        ["aout-bss-below-load-end"] = (Aout(0x10_0060, 0x10_0000, 0x10_0080, 0x10_0040, 0x10_0000), "bss_end_addr"),
        ["aout-bss-beyond-ram"] = (Aout(0x10_0060, 0x10_0000, 0x10_0080, 0xFFFF_F000, 0x10_0000), "beyond the end of guest RAM"),
        ["aout-entry-outside"] = (Aout(0x10_0060, 0x10_0000, 0x10_0080, 0, 0x30_0000), "entry_addr"),
        ["aout-fields-past-the-end"] = (Good()[..0x70].Also(f => Flags(f, 0x1_0003)), "address fields run past the end"),
        ["not-an-image"] = (new byte[5000], "neither a Linux bzImage"),
        ["empty-file"] = ([], "neither a Linux bzImage"),
    };

    public static TheoryData<string> ImageNames => new(Images.Keys);

    [Theory]
    [MemberData(nameof(ImageNames))]
    public async Task A_malformed_kernel_image_is_a_clear_message_and_status_2(string kind)
    {
        var (image, message) = Images[kind];
        string kernel = TempDir.WriteImage(image);
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M"]);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(60));
        AssertCleanRefusal(run, status, message);
    }

    [Theory]
    [InlineData("--kernel")]
    [InlineData("--initrd")]
    [InlineData("--bios")]
    public async Task Dev_zero_as_an_input_is_refused_at_once(string option)
    {
        string kernel = TempDir.WriteImage(Good());
        string[] args = option == "--kernel" ? ["run", "--kernel", "/dev/zero"]
            : option == "--initrd" ? ["run", "--kernel", kernel, "--initrd", "/dev/zero"]
            : ["run", "--bios", "/dev/zero"];
        using var run = VirtRun.Start([.. args, "-m", "16M"]);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(60));
        AssertCleanRefusal(run, status, "not a regular file (a character device)");
    }

    [Fact]
    public async Task A_fifo_as_the_kernel_is_refused_without_waiting_for_a_writer()
    {
        string fifo = Path.Combine(TempDir.Create("virt-fifo"), "kernel.fifo");
        using (var mk = Process.Start("mkfifo", [fifo])) await mk.WaitForExitAsync();
        using var run = VirtRun.Start(["run", "--kernel", fifo, "-m", "16M"]);
        int status = await run.WaitAsync(TimeSpan.FromSeconds(60)); // before the fix: blocked in open() for ever
        AssertCleanRefusal(run, status, "not a regular file (a FIFO)");
    }

    [Fact]
    public async Task A_directory_or_a_missing_file_as_the_kernel_is_refused()
    {
        using (var run = VirtRun.Start(["run", "--kernel", TempDir.Create("virt-dir"), "-m", "16M"]))
            AssertCleanRefusal(run, await run.WaitAsync(), "not a regular file (a directory)");
        using (var run = VirtRun.Start(["run", "--kernel", "/nonexistent/kernel", "-m", "16M"]))
            AssertCleanRefusal(run, await run.WaitAsync(), "no such file");
    }

    [Fact]
    public async Task An_initrd_larger_than_guest_ram_is_refused_before_it_is_read()
    {
        string kernel = TempDir.WriteImage(Good());
        string big = Path.Combine(TempDir.Create("virt-big"), "initrd");
        using (var fs = File.Create(big)) fs.SetLength(64L << 20); // sparse: costs no disk
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--initrd", big, "-m", "16M"]);
        AssertCleanRefusal(run, await run.WaitAsync(), "more than the");
    }

    [Fact]
    public async Task An_unwritable_stats_path_is_refused_before_the_guest_runs()
    {
        string kernel = TempDir.WriteImage(TestGuests.PrintAndExit("must not run\r\n", 1));
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", "/nonexistent-dir/stats.json"]);
        int status = await run.WaitAsync();
        AssertCleanRefusal(run, status, "--stats /nonexistent-dir/stats.json");
        Assert.DoesNotContain("must not run", run.Stdout);
    }

    [Fact]
    public async Task A_stats_file_is_not_left_behind_by_a_run_that_never_started()
    {
        string dir = TempDir.Create("virt-stats");
        string stats = Path.Combine(dir, "stats.json");
        string kernel = TempDir.WriteImage(With(f => f[EIdentClass] = 2));
        using var run = VirtRun.Start(["run", "--kernel", kernel, "-m", "16M", "--stats", stats]);
        AssertCleanRefusal(run, await run.WaitAsync(), "ELFCLASS64");
        Assert.False(File.Exists(stats), "an empty stats file was left behind");
    }

    [Fact]
    public async Task A_runtime_directory_open_to_others_is_a_clear_error()
    {
        string open = TempDir.Create("virt-open-rt");
        File.SetUnixFileMode(open, (UnixFileMode)0b111_111_111);
        using var run = VirtRun.Start(["run", "--demo"], runtimeDir: open);
        AssertCleanRefusal(run, await run.WaitAsync(), "readable or writable by others");
    }

    private static void AssertCleanRefusal(VirtRun run, int status, string message)
    {
        Assert.True(status == 2, $"status {status}\n{run.Describe()}");
        Assert.Contains(message, run.Stderr);
        Assert.Contains("virt: ", run.Stderr);
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr); // no .NET stack trace
        Assert.Empty(run.LeftoverVmDirectories());
    }
}

internal static class ArrayExtensions
{
    /// <summary>Applies <paramref name="patch"/> to the array and returns it (for one-expression test images).</summary>
    public static byte[] Also(this byte[] a, Action<byte[]> patch)
    {
        patch(a);
        return a;
    }
}
