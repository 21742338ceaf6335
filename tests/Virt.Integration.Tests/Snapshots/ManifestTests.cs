using MemoryPack;
using Virt.Cpu.Memory;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Snapshot;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>What an older build wrote of <see cref="MachineImage"/>: its first two members only.</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class OlderMachineImage
{
    [MemoryPackOrder(0)] public string Clock { get; set; } = "";
    [MemoryPackOrder(1)] public long NanosecondsPerInstruction { get; set; }
}

/// <summary>The snapshot file and its manifest on their own: a round trip, version tolerance, a newer schema refused.</summary>
public class ManifestTests
{
    [Fact]
    public void A_manifest_member_added_later_reads_as_its_default_and_an_older_reader_skips_it()
    {
        byte[] older = MemoryPackSerializer.Serialize(new OlderMachineImage { Clock = "instructions", NanosecondsPerInstruction = 10 });
        MachineImage read = MemoryPackSerializer.Deserialize<MachineImage>(older)!;
        Assert.Equal(("instructions", 10L, 0L), (read.Clock, read.NanosecondsPerInstruction, read.TscHz));

        byte[] newer = MemoryPackSerializer.Serialize(new MachineImage { Clock = "host", NanosecondsPerInstruction = 7, TscHz = 1_000_000_000, CpuEngine = "Native" });
        OlderMachineImage old = MemoryPackSerializer.Deserialize<OlderMachineImage>(newer)!;
        Assert.Equal(("host", 7L), (old.Clock, old.NanosecondsPerInstruction));
    }

    [Fact]
    public void A_snapshot_file_round_trips_sparse_ram_and_a_newer_schema_is_refused()
    {
        string dir = TempDir.Create("virt-snap");
        using var ram = new GuestRam(4 << 20);
        new byte[] { 1, 2, 3 }.CopyTo(ram.AsSpan(0x1000, 3));
        ram.AsSpan(0x3F_F000, 4096).Fill(0xA5);
        var manifest = new SnapshotManifest
        {
            RamSize = ram.Size,
            DeviceModels = [new DeviceModelImage { Name = "virt-dm", Command = "virt-dm", States = [new DeviceStateImage { Device = "com1", Blob = [9, 8, 7] }] }],
        };
        string path = Path.Combine(dir, "a.snap");
        var (length, written) = SnapshotFile.Write(path, manifest, ram);
        Assert.Equal(2 * 4096, written); // two non-zero pages; the rest are holes
        Assert.Equal(new FileInfo(path).Length, length);

        using (SnapshotFile f = SnapshotFile.Open(path, null))
        {
            Assert.Equal("com1", f.Manifest.DeviceModels.Single().States.Single().Device);
            using var back = new GuestRam(4 << 20);
            Assert.Equal(2 * 4096, f.LoadRam(back));
            Assert.True(back.AsSpan(0, (int)back.Size).SequenceEqual(ram.AsSpan(0, (int)ram.Size)));
        }
        Assert.Contains("wrong RAM size", Assert.Throws<SnapshotException>(() => SnapshotFile.Open(path, 8 << 20)).Message);

        manifest.SchemaVersion = 99;
        SnapshotFile.Write(path, manifest, ram);
        Assert.Contains("manifest schema 99 is newer than this virt's (1)", Assert.Throws<SnapshotException>(() => SnapshotFile.Open(path, null)).Message);
    }
}
