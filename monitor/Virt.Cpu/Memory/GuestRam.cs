using System.IO.MemoryMappedFiles;

namespace Virt.Cpu.Memory;

/// <summary>
/// Guest RAM as a memory-mapped file, so that another process (a device model doing DMA or string
/// I/O) can map the same bytes. With no path the mapping is anonymous and private to this process
/// (unit tests, benchmarks).
/// </summary>
public sealed unsafe class GuestRam : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    public GuestRam(long size, string? backingFile = null)
        : this(size, backingFile, backingFile is null
            ? MemoryMappedFile.CreateNew(null, CheckSize(size), MemoryMappedFileAccess.ReadWrite)
            : MemoryMappedFile.CreateFromFile(backingFile, FileMode.CreateNew, null, CheckSize(size), MemoryMappedFileAccess.ReadWrite))
    {
    }

    /// <summary>
    /// RAM in an already open file of exactly <paramref name="size"/> bytes (the monitor's sealed memfd,
    /// which a device model cannot shrink under this mapping); the mapping takes the stream over.
    /// </summary>
    public GuestRam(long size, FileStream backing, string name)
        : this(size, name, MemoryMappedFile.CreateFromFile(backing, null, CheckSize(size), MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false))
    {
    }

    private static long CheckSize(long size) =>
        size <= 0 || (size & 0xFFF) != 0 || size > 0xE000_0000L
            ? throw new ArgumentOutOfRangeException(nameof(size), size, "guest RAM must be a positive multiple of 4 KiB below 3.5 GiB")
            : size;

    private GuestRam(long size, string? backingFile, MemoryMappedFile file)
    {
        Size = size;
        BackingFile = backingFile;
        _file = file;
        _view = _file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += _view.PointerOffset;
    }

    public long Size { get; }

    /// <summary>The file other processes map, or null for anonymous RAM.</summary>
    public string? BackingFile { get; }

    /// <summary>Host address of guest-physical byte 0 of RAM. Valid until Dispose.</summary>
    public byte* Base => _base;

    public Span<byte> AsSpan(long offset, int length)
    {
        if ((ulong)offset > (ulong)Size || (ulong)length > (ulong)(Size - offset))
            throw new ArgumentOutOfRangeException(nameof(offset));
        return new Span<byte>(_base + offset, length);
    }

    public void Dispose()
    {
        if (_base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view.Dispose();
        _file.Dispose();
    }
}
