using System.Buffers.Binary;
using System.IO.Hashing;
using Virt.Cpu.Memory;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Snapshot;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>Format 2's RAM checksum as docs/snapshots.md defines it, and RAM loaded through its file.</summary>
public class RamChecksumTests
{
    /// <summary>CRC-32C bit by bit (reflected polynomial 0x82F63B78), the definition the crc32 instruction implements.</summary>
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    [Fact]
    public void The_checksum_is_xxh3_over_page_numbers_and_the_crc32c_of_each_quarter()
    {
        Assert.Equal(0xE3069283u, Crc32C("123456789"u8)); // the reference check value of CRC-32C
        var page = new byte[4096];
        new Random(7).NextBytes(page);
        var expected = new XxHash3();
        var digest = new byte[24];
        foreach (long number in new long[] { 5, 0x3FF })
        {
            BinaryPrimitives.WriteInt64LittleEndian(digest, number);
            for (int q = 0; q < 4; q++) BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(8 + 4 * q), Crc32C(page.AsSpan(1024 * q, 1024)));
            expected.Append(digest);
        }
        var checksum = new RamChecksum();
        checksum.AppendPage(5, page);
        checksum.AppendPage(0x3FF, page);
        Assert.Equal(expected.GetCurrentHashAsUInt64(), checksum.Value);

        // Any one byte of a page, and the page's number, are covered.
        foreach (int at in new[] { 0, 1023, 1024, 2500, 4095 })
        {
            var changed = (byte[])page.Clone();
            changed[at] ^= 0x10;
            var other = new RamChecksum();
            other.AppendPage(5, changed);
            other.AppendPage(0x3FF, page);
            Assert.NotEqual(checksum.Value, other.Value);
        }
        var renumbered = new RamChecksum();
        renumbered.AppendPage(6, page);
        renumbered.AppendPage(0x3FF, page);
        Assert.NotEqual(checksum.Value, renumbered.Value);
    }

    [Fact]
    public void Ram_with_a_file_is_loaded_through_the_file_and_reads_back_the_saved_bytes()
    {
        string dir = TempDir.Create("virt-snap");
        using var ram = new GuestRam(4 << 20);
        new Random(3).NextBytes(ram.AsSpan(0x2000, 3 * 4096));
        ram.AsSpan(0x3F_F000, 4096).Fill(0x5A);
        string path = Path.Combine(dir, "b.snap");
        SnapshotFile.Write(path, new SnapshotManifest { RamSize = ram.Size }, ram);

        using SnapshotFile f = SnapshotFile.Open(path, null);
        using var back = new GuestRam(4 << 20, Path.Combine(dir, "ram"));
        Assert.Equal(4 * 4096, f.LoadRam(back));
        Assert.True(back.AsSpan(0, (int)back.Size).SequenceEqual(ram.AsSpan(0, (int)ram.Size)));
    }
}
