using Virt.Devices.Bus;

namespace Virt.Devices.Tests.Support;

/// <summary>A device host for tests: records every IRQ line change and drives time from a <see cref="ManualClock"/>.</summary>
public sealed class TestHost : IDeviceHost
{
    private readonly bool[] _levels = new bool[16];
    private readonly int[] _risingEdges = new int[16];

    public TestHost(ManualClock? clock = null) => Clock = clock ?? new ManualClock();

    public ManualClock Clock { get; }

    public TimeProvider Time => Clock;

    /// <summary>Every SetIrq call, in order.</summary>
    public List<(int Line, bool High)> IrqCalls { get; } = new();

    /// <summary>Optional forwarding, e.g. into a PIC for wiring tests.</summary>
    public Action<int, bool>? OnIrq { get; set; }

    public bool Level(int line) => _levels[line];

    public int RisingEdges(int line) => _risingEdges[line];

    public void SetIrq(int line, bool high)
    {
        IrqCalls.Add((line, high));
        if (high && !_levels[line])
            _risingEdges[line]++;
        _levels[line] = high;
        OnIrq?.Invoke(line, high);
    }

    public void ReadGuest(ulong address, Span<byte> into) => into.Clear();

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data) { }

    public static TDevice Attach<TDevice>(TDevice device, out TestHost host, ManualClock? clock = null) where TDevice : IDevice
    {
        host = new TestHost(clock);
        device.Attach(host);
        return device;
    }
}
