using Virt.Devices.Bus;

namespace Virt.Pc.Tests.Wiring;

/// <summary>A device host that records the lines its devices drive (and passes them on, when asked); guest memory is not there.</summary>
internal sealed class RecordingHost(Action<int, bool>? forward = null) : IDeviceHost
{
    public List<(int Line, bool High)> Lines { get; } = new();

    public TimeProvider Time => TimeProvider.System;

    public void SetIrq(int line, bool high)
    {
        Lines.Add((line, high));
        forward?.Invoke(line, high);
    }

    public void ReadGuest(ulong address, Span<byte> into) => throw new InvalidOperationException("no guest memory here");

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data) => throw new InvalidOperationException("no guest memory here");
}
