using System.IO.MemoryMappedFiles;

namespace Virt.Shared.Runtime;

/// <summary>
/// A file mapped read-write and shared with the other process (guest RAM, the comm pages).
/// Gives a raw pointer: the comm page is read and written in place, never copied.
/// </summary>
public sealed unsafe class SharedRegion : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private SharedRegion(MemoryMappedFile file, long size, string path)
    {
        _file = file;
        Size = size;
        Path = path;
        _view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += _view.PointerOffset;
    }

    public long Size { get; }
    public string Path { get; }
    public byte* Base => _base;

    /// <summary>Creates a new file (mode 0600) of the given size and maps it; fails if it exists.</summary>
    public static SharedRegion Create(string path, long size)
    {
        using (var fs = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            fs.SetLength(size);
        }
        return Open(path, size);
    }

    /// <summary>Maps an existing file; its length must be at least <paramref name="size"/>.</summary>
    public static SharedRegion Open(string path, long size)
    {
        long length = new FileInfo(path).Length;
        if (length < size) throw new InvalidDataException($"{path}: {length} bytes, expected at least {size}");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        return new SharedRegion(file, size, path);
    }

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
