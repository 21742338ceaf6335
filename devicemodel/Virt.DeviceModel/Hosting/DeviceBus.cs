using Virt.DeviceModel.Exits;
using Virt.Devices.Bus;
using Virt.Shared.Abi;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The devices of this process, found by port or MMIO address; dispatches published exits to
/// them. Device calls are serialised by <see cref="Lock"/> (the IDevice contract), which the
/// console input thread also takes.
/// </summary>
public sealed class DeviceBus : IExitDispatcher
{
    private readonly IDevice?[] _ports = new IDevice?[0x10000];
    private readonly List<(BusRange Range, IDevice Device)> _mmio = new();
    private readonly List<IDevice> _devices = new();

    public object Lock { get; } = new();

    public IReadOnlyList<IDevice> Devices => _devices;

    public void Add(IDevice device)
    {
        foreach (BusRange r in device.Ranges)
        {
            if (r.Space == BusSpace.Port)
            {
                for (ulong p = r.Start; p < r.End && p < 0x10000; p++)
                {
                    if (_ports[p] is { } other) throw new InvalidOperationException($"{device.Name}: port 0x{p:X} already belongs to {other.Name}");
                    _ports[p] = device;
                }
            }
            else
            {
                _mmio.Add((r, device));
            }
        }
        _devices.Add(device);
    }

    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint stopArg)
    {
        stopArg = 0;
        int size = exit.Size;
        lock (Lock)
        {
            StopRequest = null;
            Event = null;
            switch ((ExitReason)exit.Reason)
            {
                case ExitReason.PortIo:
                {
                    if (exit.Address > 0xFFFF || _ports[exit.Address] is not { } dev) return CompletionStatus.Unhandled;
                    ushort port = (ushort)exit.Address;
                    bool isString = (exit.Flags & (byte)ExitFlags.String) != 0;
                    int count = isString ? (int)Math.Min(exit.Count, (uint)(dataPage.Length / Math.Max(size, 1))) : 1;
                    if (size is not (1 or 2 or 4)) return CompletionStatus.Unhandled;
                    if (exit.Direction == (byte)ExitDirection.Read)
                    {
                        if (!isString) exit.Data = dev.PortRead(port, size);
                        else
                            for (int i = 0; i < count; i++)
                            {
                                uint v = dev.PortRead(port, size);
                                for (int b = 0; b < size; b++) dataPage[i * size + b] = (byte)(v >> (8 * b));
                            }
                    }
                    else if (!isString) dev.PortWrite(port, size, (uint)exit.Data);
                    else
                        for (int i = 0; i < count; i++)
                        {
                            uint v = 0;
                            for (int b = 0; b < size; b++) v |= (uint)dataPage[i * size + b] << (8 * b);
                            dev.PortWrite(port, size, v);
                        }
                    break;
                }
                case ExitReason.Mmio:
                {
                    IDevice? dev = null;
                    foreach (var (range, d) in _mmio)
                        if (range.Contains(exit.Address)) { dev = d; break; }
                    if (dev is null) return CompletionStatus.Unhandled;
                    if (exit.Direction == (byte)ExitDirection.Read) exit.Data = dev.MmioRead(exit.Address, size);
                    else dev.MmioWrite(exit.Address, size, exit.Data);
                    break;
                }
                default:
                    return CompletionStatus.Unhandled;
            }
            if (StopRequest is { } stop)
            {
                stopArg = stop;
                return CompletionStatus.StopVm;
            }
            if (Event is { } e)
            {
                stopArg = (uint)e;
                return CompletionStatus.PlatformEvent;
            }
            return CompletionStatus.Ok;
        }
    }

    /// <summary>Set by a device (the exit port, through its callback) during a dispatch: end the VM with this value.</summary>
    public uint? StopRequest { get; set; }

    /// <summary>Set by a device during a dispatch (i8042 reset pulse or A20, 0xCF9): completes the exit with PlatformEvent.</summary>
    public PlatformEvent? Event { get; set; }
}
