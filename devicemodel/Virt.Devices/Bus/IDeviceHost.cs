namespace Virt.Devices.Bus;

/// <summary>What a process hosting devices gives them: interrupt lines, guest memory and time.</summary>
public interface IDeviceHost
{
    /// <summary>Drives an ISA IRQ line (0-15) high or low. Edge-triggered controllers see the rising edge.</summary>
    void SetIrq(int line, bool high);

    /// <summary>Reads guest-physical memory (DMA, string I/O buffers).</summary>
    void ReadGuest(ulong address, Span<byte> into);

    /// <summary>Writes guest-physical memory (DMA, string I/O buffers).</summary>
    void WriteGuest(ulong address, ReadOnlySpan<byte> data);

    /// <summary>The host's clock: devices read time only through it, so tests can drive it.</summary>
    TimeProvider Time { get; }
}
