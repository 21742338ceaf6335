using System.Buffers.Binary;
using System.IO.Hashing;
using MemoryPack;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Virt.Cpu.Memory;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// One snapshot file (docs/snapshots.md): a fixed little-endian header (magic, format version,
/// where the manifest and RAM are, their checksums), the MemoryPack manifest, then guest
/// RAM as a raw region at a page-aligned offset, all-zero pages left as holes. Opening checks
/// everything but RAM's checksum, which <see cref="LoadRam"/> checks as it copies; either refuses
/// with a <see cref="SnapshotException"/> before any guest code runs.
/// </summary>
public sealed class SnapshotFile : IDisposable
{
    /// <summary>2: RAM's checksum is <see cref="RamChecksum"/>'s (1 hashed the pages themselves; refused, with that reason).</summary>
    public const uint FormatVersion = 2;
    public const int HeaderSize = 64;
    private const int PageSize = 4096;
    private const int Chunk = 1 << 20;
    private static ReadOnlySpan<byte> Magic => "VIRTSNAP"u8;

    private readonly SafeFileHandle _handle;

    private SnapshotFile(string path, SafeFileHandle handle, SnapshotManifest manifest, long fileLength, long ramOffset, ulong ramChecksum)
    {
        Path = path;
        _handle = handle;
        Manifest = manifest;
        FileLength = fileLength;
        RamOffset = ramOffset;
        SavedRamChecksum = ramChecksum;
    }

    public string Path { get; }
    public SnapshotManifest Manifest { get; }
    public long FileLength { get; }
    public long RamOffset { get; }
    public long RamSize => Manifest.RamSize;
    private ulong SavedRamChecksum { get; }

    /// <summary>Reads and checks the header and the manifest; <paramref name="ramSize"/>, when given (-m), must be the saved size.</summary>
    /// <param name="wrongSize">What a snapshot of another RAM size is told to do, given the saved size in MiB.</param>
    public static SnapshotFile Open(string path, long? ramSize, Func<long, string>? wrongSize = null)
    {
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new SnapshotException($"snapshot {path}: {e.Message.TrimEnd('.')}; nothing was restored");
        }
        try
        {
            return Check(path, handle, ramSize, wrongSize ?? (_ => "leave -m out, or give the saved size"));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SnapshotFile Check(string path, SafeFileHandle handle, long? ramSize, Func<long, string> wrongSize)
    {
        string Bad(string why) => $"snapshot {path}: {why}; nothing was restored";
        long length = RandomAccess.GetLength(handle);
        Span<byte> h = stackalloc byte[HeaderSize];
        if (length < HeaderSize || RandomAccess.Read(handle, h, 0) != HeaderSize)
            throw new SnapshotException(Bad($"truncated: {length} bytes, shorter than the {HeaderSize}-byte header"));
        if (!h[..8].SequenceEqual(Magic)) throw new SnapshotException(Bad("not a virt snapshot (no VIRTSNAP magic)"));
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
        if (version != FormatVersion)
            throw new SnapshotException(Bad($"format version {version}{(version < FormatVersion ? " (an older virt's)" : "")}; this virt reads format version {FormatVersion}"));
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
        long manifestOffset = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        long manifestLength = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        long ramOffset = BinaryPrimitives.ReadInt64LittleEndian(h[32..]);
        long ram = BinaryPrimitives.ReadInt64LittleEndian(h[40..]);
        ulong manifestSum = BinaryPrimitives.ReadUInt64LittleEndian(h[48..]);
        ulong ramSum = BinaryPrimitives.ReadUInt64LittleEndian(h[56..]);
        if (headerSize != HeaderSize || manifestOffset != HeaderSize || manifestLength is <= 0 or > 64 << 20
            || ramOffset < manifestOffset + manifestLength || ramOffset % PageSize != 0 || ram <= 0 || ram % PageSize != 0)
            throw new SnapshotException(Bad("a damaged header (its offsets and sizes do not fit together)"));
        if (length != ramOffset + ram)
            throw new SnapshotException(Bad(length < ramOffset + ram
                ? $"truncated: {length} bytes, the header says {ramOffset + ram}"
                : $"{length - (ramOffset + ram)} bytes more than the header says"));
        byte[] manifestBytes = new byte[manifestLength];
        RandomAccess.Read(handle, manifestBytes, manifestOffset);
        if (XxHash3.HashToUInt64(manifestBytes) != manifestSum)
            throw new SnapshotException(Bad("corrupted: the manifest's checksum does not match"));
        SnapshotManifest? m;
        try { m = MemoryPackSerializer.Deserialize<SnapshotManifest>(manifestBytes); }
        catch (MemoryPackSerializationException e) { throw new SnapshotException(Bad($"the manifest cannot be read: {e.Message}")); }
        if (m is null) throw new SnapshotException(Bad("an empty manifest"));
        if (m.SchemaVersion > SnapshotManifest.CurrentSchema)
            throw new SnapshotException(Bad($"manifest schema {m.SchemaVersion} is newer than this virt's ({SnapshotManifest.CurrentSchema})"));
        if (m.RamSize != ram) throw new SnapshotException(Bad($"the manifest says {m.RamSize} bytes of RAM, the header {ram}"));
        if (ramSize is { } wanted && wanted != ram)
            throw new SnapshotException(Bad($"wrong RAM size: it holds {ram >> 20} MiB of guest RAM, -m asks for {wanted >> 20} MiB ({wrongSize(ram >> 20)})"));
        return new SnapshotFile(path, handle, m, length, ramOffset, ramSum);
    }

    /// <summary>
    /// Loads saved RAM into <paramref name="ram"/> (fresh, all zero), checking its checksum. Only the
    /// file's data extents are read (SEEK_DATA / SEEK_HOLE): the holes are zero pages, which the
    /// checksum does not cover and which stay unallocated in the memfd. Non-zero pages are written
    /// to RAM's file with pwrite where it has one (the kernel fills the memfd's pages; the mapping then
    /// faults them in as the guest touches them, instead of the restore taking a fault per page).
    /// A mismatch refuses the restore before any guest code runs. Returns the bytes of non-zero pages.
    /// </summary>
    public long LoadRam(GuestRam ram)
    {
        if (ram.Size != RamSize) throw new SnapshotException($"snapshot {Path}: RAM is {ram.Size} bytes, the snapshot {RamSize}");
        using SafeFileHandle? ramFile = ram.BackingFile is { } file ? File.OpenHandle(file, FileMode.Open, FileAccess.ReadWrite) : null;
        var checksum = new RamChecksum();
        byte[] buffer = GC.AllocateUninitializedArray<byte>(Chunk);
        long copied = 0;
        long nextPage = 0;
        foreach (var (start, end) in DataExtents())
        {
            // Whole pages, each visited once and in order (an extent may start or end inside a page on a small-block filesystem).
            long from = Math.Max(start / PageSize * PageSize, nextPage), to = Math.Min((end + PageSize - 1) / PageSize * PageSize, RamSize);
            for (long at = from; at < to; at += Chunk)
            {
                int n = (int)Math.Min(Chunk, to - at);
                Span<byte> chunk = buffer.AsSpan(0, n);
                if (RandomAccess.Read(_handle, chunk, RamOffset + at) != n) throw new SnapshotException($"snapshot {Path}: truncated while reading RAM; nothing was restored");
                // Runs of non-zero pages, one write each.
                int p = 0;
                while (NextDataRun(chunk, at, checksum, ref p, out int run))
                {
                    if (ramFile is not null) RandomAccess.Write(ramFile, chunk[run..p], at + run);
                    else chunk[run..p].CopyTo(ram.AsSpan(at + run, p - run));
                    copied += p - run;
                }
            }
            nextPage = Math.Max(nextPage, to);
        }
        if (checksum.Value != SavedRamChecksum)
            throw new SnapshotException($"snapshot {Path}: corrupted: guest RAM's checksum does not match; nothing was restored");
        return copied;
    }

    /// <summary>
    /// All of <paramref name="ram"/> zero again, as before a <see cref="LoadRam"/> (a restore refused after RAM was loaded):
    /// the memfd's pages are given back (a punched hole reads as zeros, in every process that maps it).
    /// </summary>
    public static void Unload(GuestRam ram)
    {
        if (ram.BackingFile is { } file)
        {
            using SafeFileHandle f = File.OpenHandle(file, FileMode.Open, FileAccess.ReadWrite);
            if (Libc.fallocate((int)f.DangerousGetHandle(), Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, 0, ram.Size) == 0) return;
        }
        // No file, or one that cannot punch holes: zeros written (every page becomes allocated).
        for (long at = 0; at < ram.Size; at += Chunk) ram.AsSpan(at, (int)Math.Min(Chunk, ram.Size - at)).Clear();
    }

    /// <summary>The RAM region's data extents, as offsets into RAM; all of it where the filesystem cannot tell holes.</summary>
    private List<(long Start, long End)> DataExtents()
    {
        var extents = new List<(long, long)>();
        int fd = (int)_handle.DangerousGetHandle();
        long end = RamOffset + RamSize;
        for (long at = RamOffset; at < end;)
        {
            long data = Libc.lseek(fd, at, Libc.SeekData);
            if (data < 0)
            {
                if (Marshal.GetLastPInvokeError() == Libc.ENXIO) break; // no data after this point
                return [(0, RamSize)];
            }
            if (data >= end) break;
            long hole = Libc.lseek(fd, data, Libc.SeekHole);
            if (hole < 0) return [(0, RamSize)];
            hole = Math.Min(hole, end);
            extents.Add((data - RamOffset, hole - RamOffset));
            at = hole;
        }
        return extents;
    }

    /// <summary>
    /// Writes a snapshot to <paramref name="path"/>: to a temporary name beside it, renamed over
    /// <paramref name="path"/> only when complete, so a failed save leaves no file that looks whole.
    /// Returns the file's length and the bytes of RAM written (its non-zero pages; the rest are holes).
    /// </summary>
    public static (long Length, long RamWritten) Write(string path, SnapshotManifest manifest, GuestRam ram)
    {
        byte[] manifestBytes = MemoryPackSerializer.Serialize(manifest);
        long ramOffset = (HeaderSize + manifestBytes.Length + PageSize - 1) / PageSize * PageSize;
        string temp = $"{path}.partial-{Environment.ProcessId}";
        long written = 0;
        try
        {
            using (SafeFileHandle f = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
            {
                RandomAccess.Write(f, manifestBytes, HeaderSize);
                var checksum = new RamChecksum();
                for (long at = 0; at < ram.Size; at += Chunk)
                {
                    int n = (int)Math.Min(Chunk, ram.Size - at);
                    ReadOnlySpan<byte> chunk = ram.AsSpan(at, n);
                    // Runs of non-zero pages are written; zero pages stay holes (the file is sparse, as guest RAM mostly is).
                    int p = 0;
                    while (NextDataRun(chunk, at, checksum, ref p, out int start))
                    {
                        RandomAccess.Write(f, chunk[start..p], ramOffset + at + start);
                        written += p - start;
                    }
                }
                RandomAccess.SetLength(f, ramOffset + ram.Size);
                Span<byte> h = stackalloc byte[HeaderSize];
                h.Clear();
                Magic.CopyTo(h);
                BinaryPrimitives.WriteUInt32LittleEndian(h[8..], FormatVersion);
                BinaryPrimitives.WriteUInt32LittleEndian(h[12..], HeaderSize);
                BinaryPrimitives.WriteInt64LittleEndian(h[16..], HeaderSize);
                BinaryPrimitives.WriteInt64LittleEndian(h[24..], manifestBytes.Length);
                BinaryPrimitives.WriteInt64LittleEndian(h[32..], ramOffset);
                BinaryPrimitives.WriteInt64LittleEndian(h[40..], ram.Size);
                BinaryPrimitives.WriteUInt64LittleEndian(h[48..], XxHash3.HashToUInt64(manifestBytes));
                BinaryPrimitives.WriteUInt64LittleEndian(h[56..], checksum.Value);
                RandomAccess.Write(f, h, 0);
            }
            File.Move(temp, path, overwrite: true);
            return (ramOffset + ram.Size, written);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>
    /// The next run of non-zero pages in <paramref name="chunk"/> (RAM from <paramref name="at"/>), from
    /// <paramref name="p"/> on: [start, p), each page's CRCs taken into <paramref name="checksum"/> on the
    /// way. False when only zero pages are left. Saving writes such runs, loading copies them.
    /// </summary>
    private static bool NextDataRun(ReadOnlySpan<byte> chunk, long at, RamChecksum checksum, ref int p, out int start)
    {
        while (p < chunk.Length && IsZeroPage(chunk, p)) p += PageSize;
        start = p;
        for (; p < chunk.Length && !IsZeroPage(chunk, p); p += PageSize) checksum.AppendPage((at + p) / PageSize, chunk.Slice(p, PageSize));
        return p > start;
    }

    private static bool IsZeroPage(ReadOnlySpan<byte> chunk, int offset) => chunk.Slice(offset, PageSize).IndexOfAnyExcept((byte)0) < 0;

    public void Dispose() => _handle.Dispose();
}
