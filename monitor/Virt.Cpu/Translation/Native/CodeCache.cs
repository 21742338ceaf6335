using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// Executable memory for the native translator, which the monitor maps itself, filled by bump
/// allocation. W^X by double mapping: one memfd is mapped twice, read+execute where code runs and
/// read+write where the emitter copies blocks in and patches links, so no page is ever writable
/// and executable at once, and no mprotect (with the TLB shootdown it sends to the other core) is
/// needed per block or per link. Bounded: when a block does not fit, <see cref="TryAllocate"/>
/// fails and the owner flushes (drops every native block, then <see cref="Reset"/>). Only the VCPU
/// thread that owns the cache writes or runs it.
/// </summary>
internal sealed unsafe class CodeCache : IDisposable
{
    private const int PageSize = 4096;

    private readonly byte* _exec;   // read+execute view: the addresses code runs at and is assembled for
    private readonly byte* _write;  // read+write view of the same pages
    private int _used;

    public CodeCache(int capacity)
    {
        Capacity = (capacity + PageSize - 1) & ~(PageSize - 1);
        int fd = Libc.MemfdCreate("virt-native-code", Libc.MfdCloexec);
        if (fd < 0) throw new OutOfMemoryException($"cannot create the code cache (memfd_create: errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Libc.Ftruncate(fd, Capacity) != 0)
                throw new OutOfMemoryException($"cannot size the code cache to {Capacity} bytes (errno {Marshal.GetLastPInvokeError()})");
            nint exec = Libc.Mmap(0, (nuint)Capacity, Libc.ProtRead | Libc.ProtExec, Libc.MapShared, fd, 0);
            nint write = Libc.Mmap(0, (nuint)Capacity, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, fd, 0);
            if (exec == -1 || write == -1)
                throw new OutOfMemoryException($"cannot map {Capacity} bytes of executable memory (errno {Marshal.GetLastPInvokeError()})");
            _exec = (byte*)exec;
            _write = (byte*)write;
        }
        finally
        {
            Libc.Close(fd); // the mappings keep the memory
        }
    }

    public int Capacity { get; }

    public int Used => _used;

    /// <summary>Times the cache filled and was emptied.</summary>
    public int Flushes { get; private set; }

    /// <summary>Host address the next block would run at (blocks are 16-byte aligned).</summary>
    public ulong NextAddress => (ulong)(_exec + Align(_used));

    /// <summary>Where <paramref name="code"/> lies in the cache's memfd (the offset perf reports for samples in it).</summary>
    public long OffsetOf(byte* code) => code - _exec;

    private static int Align(int n) => (n + 15) & ~15;

    /// <summary>Copies <paramref name="code"/> in (through the writable view); its executable address, or null when it does not fit.</summary>
    public byte* TryAllocate(ReadOnlySpan<byte> code)
    {
        int start = Align(_used);
        if (start + code.Length > Capacity) return null;
        code.CopyTo(new Span<byte>(_write + start, code.Length));
        _used = start + code.Length;
        return _exec + start;
    }

    /// <summary>Points the JMP rel32 whose displacement is at <paramref name="site"/> (an executable address) at <paramref name="target"/>.</summary>
    public void PatchJump(byte* site, byte* target)
    {
        long rel = target - (site + 4);
        if (rel is < int.MinValue or > int.MaxValue) throw new InvalidOperationException("link target out of rel32 range");
        // One aligned 4-byte store would be atomic, but nothing runs this code meanwhile anyway (the VCPU thread is here).
        WriteInt32(site, (int)rel);
    }

    /// <summary>Writes a 4-byte value into placed code (through the writable view) at executable address <paramref name="at"/>.</summary>
    public void WriteInt32(byte* at, int value) => *(int*)(_write + (at - _exec)) = value;

    /// <summary>Forgets every block (the caller has dropped all references to them).</summary>
    public void Reset()
    {
        _used = 0;
        Flushes++;
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    // The CPU that owns the cache has no Dispose of its own: its mappings go when it is collected.
    ~CodeCache() => Release();

    private void Release()
    {
        Libc.Munmap((nint)_exec, (nuint)Capacity);
        Libc.Munmap((nint)_write, (nuint)Capacity);
    }
}
