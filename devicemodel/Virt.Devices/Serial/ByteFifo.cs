namespace Virt.Devices.Serial;

/// <summary>
/// Fixed-storage ring buffer for the UART FIFOs. The usable capacity changes with the UART's
/// mode (16 with FIFOs enabled, 1 in 16450 mode) without reallocating.
/// </summary>
internal sealed class ByteFifo
{
    public const int MaxCapacity = 16;

    private readonly byte[] _data = new byte[MaxCapacity];
    private int _head;

    public int Count { get; private set; }

    public int Capacity { get; private set; } = MaxCapacity;

    public bool IsEmpty => Count == 0;

    public bool IsFull => Count >= Capacity;

    /// <summary>Changes the usable size; the contents are discarded, as the hardware does on a mode change.</summary>
    public void Reset(int capacity)
    {
        Capacity = capacity;
        Clear();
    }

    public void Clear()
    {
        _head = 0;
        Count = 0;
    }

    public bool TryEnqueue(byte value)
    {
        if (IsFull)
            return false;
        _data[(_head + Count) % MaxCapacity] = value;
        Count++;
        return true;
    }

    public byte Dequeue()
    {
        byte value = _data[_head];
        _head = (_head + 1) % MaxCapacity;
        Count--;
        return value;
    }

    /// <summary>Copies the contents, oldest first, into <paramref name="into"/> (Count bytes; for state save).</summary>
    public void CopyTo(Span<byte> into)
    {
        for (int i = 0; i < Count; i++)
            into[i] = _data[(_head + i) % MaxCapacity];
    }

    /// <summary>The contents, oldest first (for state save).</summary>
    public byte[] ToArray()
    {
        var result = new byte[Count];
        for (int i = 0; i < Count; i++)
            result[i] = _data[(_head + i) % MaxCapacity];
        return result;
    }
}
