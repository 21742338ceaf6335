using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// Executable memory for the native translator: one region the monitor maps itself (mmap), filled
/// by bump allocation. W^X: pages are read+write only while a block is written into them and
/// read+execute afterwards, never both. Bounded: when a block does not fit, <see cref="TryAllocate"/>
/// fails and the owner flushes (drops every native block, then <see cref="Reset"/>).
/// Only the VCPU thread that owns the cache writes or runs it, so no page is ever flipped to
/// writable while code in it runs.
/// </summary>
internal sealed unsafe partial class CodeCache : IDisposable
{
    private const int PageSize = 4096;
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20;

    private readonly byte* _base;
    private int _used;

    public CodeCache(int capacity)
    {
        Capacity = (capacity + PageSize - 1) & ~(PageSize - 1);
        nint p = Mmap(0, (nuint)Capacity, ProtRead | ProtExec, MapPrivate | MapAnonymous, -1, 0);
        if (p == -1) throw new OutOfMemoryException($"cannot map {Capacity} bytes of executable memory (errno {Marshal.GetLastPInvokeError()})");
        _base = (byte*)p;
    }

    public int Capacity { get; }

    public int Used => _used;

    /// <summary>Times the cache filled and was emptied.</summary>
    public int Flushes { get; private set; }

    /// <summary>Host address the next block would start at (blocks are 16-byte aligned).</summary>
    public ulong NextAddress => (ulong)(_base + Align(_used));

    private static int Align(int n) => (n + 15) & ~15;

    /// <summary>Copies <paramref name="code"/> in, flips its pages to read+execute; null when it does not fit.</summary>
    public byte* TryAllocate(ReadOnlySpan<byte> code)
    {
        int start = Align(_used);
        if (start + code.Length > Capacity) return null;
        byte* dst = _base + start;
        byte* firstPage = (byte*)((nuint)dst & ~(nuint)(PageSize - 1));
        nuint span = (nuint)(dst + code.Length - firstPage);
        Protect(firstPage, span, ProtRead | ProtWrite);
        code.CopyTo(new Span<byte>(dst, code.Length));
        Protect(firstPage, span, ProtRead | ProtExec);
        _used = start + code.Length;
        return dst;
    }

    /// <summary>Points the JMP rel32 whose displacement is at <paramref name="site"/> at <paramref name="target"/> (W^X: the page is writable only meanwhile).</summary>
    public void PatchJump(byte* site, byte* target)
    {
        long rel = target - (site + 4);
        if (rel is < int.MinValue or > int.MaxValue) throw new InvalidOperationException("link target out of rel32 range");
        byte* firstPage = (byte*)((nuint)site & ~(nuint)(PageSize - 1));
        nuint span = (nuint)(site + 4 - firstPage);
        Protect(firstPage, span, ProtRead | ProtWrite);
        *(int*)site = (int)rel;
        Protect(firstPage, span, ProtRead | ProtExec);
    }

    /// <summary>Forgets every block (the caller has dropped all references to them).</summary>
    public void Reset()
    {
        _used = 0;
        Flushes++;
    }

    private static void Protect(byte* page, nuint length, int prot)
    {
        if (Mprotect((nint)page, length, prot) != 0)
            throw new InvalidOperationException($"mprotect of the code cache failed (errno {Marshal.GetLastPInvokeError()})");
    }

    public void Dispose() => Munmap((nint)_base, (nuint)Capacity);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint addr, nuint length);
}
