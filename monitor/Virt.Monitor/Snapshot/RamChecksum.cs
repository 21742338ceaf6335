using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// Guest RAM's checksum in a snapshot (format 2): XXH3-64 over, for each non-zero page in address
/// order, its page number (u64, little-endian) and the CRC-32C of each of its four 1 KiB quarters
/// (4 x u32, little-endian). Zero pages are left out, so a restore need not read the file's holes.
/// The page CRCs run on the CPU's crc32 instruction (<see cref="BitOperations.Crc32C(uint, ulong)"/>)
/// in a loop compiled optimized at once: XXH3 over the pages themselves (format 1) ran as the JIT's
/// first, unoptimized code during the short life of a save or restore, at ~400 MB/s, a third of a
/// 256 MiB Linux guest's restore. Four independent CRCs keep the instruction's pipeline full.
/// </summary>
public sealed class RamChecksum
{
    public const int PageSize = 4096;
    private readonly XxHash3 _hash = new();

    public void AppendPage(long pageNumber, ReadOnlySpan<byte> page)
    {
        Span<byte> digest = stackalloc byte[8 + 16];
        BinaryPrimitives.WriteInt64LittleEndian(digest, pageNumber);
        PageCrcs(page, digest[8..]);
        _hash.Append(digest);
    }

    public ulong Value => _hash.GetCurrentHashAsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PageCrcs(ReadOnlySpan<byte> page, Span<byte> crcs)
    {
        ReadOnlySpan<ulong> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(page[..PageSize]);
        const int Quarter = PageSize / 8 / 4;
        uint a = ~0u, b = ~0u, c = ~0u, d = ~0u;
        for (int i = 0; i < Quarter; i++)
        {
            a = BitOperations.Crc32C(a, words[i]);
            b = BitOperations.Crc32C(b, words[Quarter + i]);
            c = BitOperations.Crc32C(c, words[2 * Quarter + i]);
            d = BitOperations.Crc32C(d, words[3 * Quarter + i]);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(crcs, ~a);
        BinaryPrimitives.WriteUInt32LittleEndian(crcs[4..], ~b);
        BinaryPrimitives.WriteUInt32LittleEndian(crcs[8..], ~c);
        BinaryPrimitives.WriteUInt32LittleEndian(crcs[12..], ~d);
    }
}
