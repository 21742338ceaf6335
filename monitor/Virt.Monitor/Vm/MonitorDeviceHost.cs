using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.Platform;

namespace Virt.Monitor.Vm;

/// <summary>IDeviceHost for the devices hosted in the monitor (PIC, PIT): IRQs go straight to the PIC, on the VCPU thread.</summary>
public sealed class MonitorDeviceHost(DualPic8259 pic, PhysicalMemory memory) : IDeviceHost
{
    public TimeProvider Time => TimeProvider.System;

    public void SetIrq(int line, bool high) => pic.SetIrq(line, high);

    public void ReadGuest(ulong address, Span<byte> into)
    {
        if (address + (ulong)into.Length > 0x1_0000_0000UL) throw new ArgumentOutOfRangeException(nameof(address));
        memory.Read((uint)address, into);
    }

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data)
    {
        if (address + (ulong)data.Length > 0x1_0000_0000UL) throw new ArgumentOutOfRangeException(nameof(address));
        for (int i = 0; i < data.Length; i++) memory.Write8((uint)address + (uint)i, data[i]);
    }
}
