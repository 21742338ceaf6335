using System.IO.MemoryMappedFiles;

namespace Virt.Shared.Runtime;

/// <summary>
/// A file mapped read-write and shared with the other process (guest RAM, the comm pages).
/// Gives a raw pointer: the comm page is read and written in place, never copied.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
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

    /// <summary>
    /// Creates the region as a sealed memfd named by <paramref name="path"/> (fails if it exists) and maps it.
    /// Sealed: a peer cannot shrink it under the mapping (<see cref="SealedFile"/>).
    /// </summary>
    public static SharedRegion Create(string path, long size)
    {
        FileStream fs = SealedFile.Create(path, size);
        try
        {
            var file = MemoryMappedFile.CreateFromFile(fs, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            return new SharedRegion(file, size, path);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>Maps an existing file; its length must be at least <paramref name="size"/> (checked on the opened file, not the name).</summary>
    public static SharedRegion Open(string path, long size)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            if (fs.Length < size) throw new InvalidDataException($"{path}: {fs.Length} bytes, expected at least {size}");
            var file = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            return new SharedRegion(file, size, path);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
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
