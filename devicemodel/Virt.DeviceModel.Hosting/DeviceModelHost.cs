using Virt.DeviceModelKit.Guest;
using Virt.Devices.Bus;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// IDeviceHost for devices in a device model process: IRQ lines go to the IRQ words of VCPU 0's
/// comm page (the monitor's PIC picks them up), guest memory is the shared RAM file.
/// </summary>
public sealed class DeviceModelHost(IrqLines irq, GuestMemory memory) : IDeviceHost
{
    public TimeProvider Time { get; } = TimeProvider.System;

    public void SetIrq(int line, bool high) => irq.Set(line, high);

    public void ReadGuest(ulong address, Span<byte> into) => memory.Read(address, into);

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data) => memory.Write(address, data);
}
