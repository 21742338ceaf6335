using System.Buffers.Binary;
using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>Snapshots that must not restore: each is refused with a clear reason and status 2 before any guest code runs or any device model starts.</summary>
public class BadSnapshotTests
{
    private static async Task<string> GoodSnapshotAsync(string dir)
    {
        string snap = Path.Combine(dir, "good.snap");
        using VirtRun run = await SnapshotRuns.StartCounterAsync(Path.Combine(dir, "console.txt"));
        var (code, output, err) = await SnapshotRuns.SaveAsync(run, snap, stop: true);
        Assert.True(code == 0, $"save: {code} {output} {err}\n{run.Describe()}");
        Assert.Equal(0, await run.WaitAsync());
        return snap;
    }

    private static string Variant(string good, string name, Action<FileStream> damage)
    {
        string path = Path.Combine(Path.GetDirectoryName(good)!, name);
        File.Copy(good, path);
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        damage(f);
        return path;
    }

    private static void Flip(FileStream f, long offset)
    {
        f.Position = offset;
        int b = f.ReadByte();
        f.Position = offset;
        f.WriteByte((byte)(b ^ 0x40));
    }

    [Fact]
    public async Task Truncated_corrupted_other_version_and_wrong_size_snapshots_are_refused_with_status_2()
    {
        string dir = TempDir.Create("virt-snap");
        string good = await GoodSnapshotAsync(dir);
        long ramOffset;
        using (var f = File.OpenRead(good))
        {
            var header = new byte[64];
            f.ReadExactly(header);
            ramOffset = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(32));
        }
        string notSnapshot = Path.Combine(dir, "text.snap");
        File.WriteAllText(notSnapshot, "hello, not a snapshot at all, but long enough to hold a header of sixty-four bytes");
        var cases = new (string File, string[] Extra, string Expect)[]
        {
            (Variant(good, "truncated.snap", f => f.SetLength(f.Length - 4096)), [], "truncated: "),
            (Variant(good, "short.snap", f => f.SetLength(20)), [], "truncated: 20 bytes"),
            (Variant(good, "manifest.snap", f => Flip(f, 64 + 17)), [], "corrupted: the manifest's checksum does not match"),
            (Variant(good, "ram.snap", f => Flip(f, ramOffset + 0x10_0005)), [], "corrupted: guest RAM's checksum does not match"),
            (Variant(good, "version.snap", f => { f.Position = 8; f.Write([99, 0, 0, 0]); }), [], "format version 99; this virt reads format version 2"),
            (Variant(good, "older.snap", f => { f.Position = 8; f.Write([1, 0, 0, 0]); }), [], "format version 1 (an older virt's); this virt reads format version 2"),
            (good, ["-m", "32M"], "wrong RAM size: it holds 64 MiB of guest RAM, -m asks for 32 MiB"),
            (notSnapshot, [], "not a virt snapshot"),
            (Path.Combine(dir, "missing.snap"), [], "missing.snap"),
        };
        foreach (var (file, extra, expect) in cases)
        {
            string console = Path.Combine(dir, $"console-{Path.GetFileName(file)}.txt");
            using var run = VirtRun.Start(["run", "--restore", file, "--serial", $"file:{console}", .. extra]);
            Assert.Equal(2, await run.WaitAsync());
            Assert.Contains(expect, run.Stderr);
            Assert.Contains("nothing was restored", run.Stderr);
            Assert.DoesNotContain("device model pid", run.Stderr); // no device model was started
            Assert.DoesNotContain("   at ", run.Stderr);          // no stack trace
            Assert.False(File.Exists(console) && new FileInfo(console).Length > 0, $"{file}: the guest printed\n{run.Describe()}");
            Assert.Empty(run.LeftoverVmDirectories());
        }
        // And the good one still restores.
        using var ok = VirtRun.Start(["run", "--restore", good, "--serial", $"file:{Path.Combine(dir, "ok.txt")}"]);
        await SnapshotRuns.MoreLinesAsync(ok, Path.Combine(dir, "ok.txt"), 10);
        VirtCli.Signal(ok.Pid, "INT");
        Assert.Equal(130, await ok.WaitAsync());
    }
}
