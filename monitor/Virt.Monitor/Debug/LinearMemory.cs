using Virt.Cpu.Memory;

namespace Virt.Monitor.Debug;

/// <summary>
/// Guest memory at linear addresses for the debugger's m and M packets, translated through the
/// guest's page tables as its CPU would (<c>Cpu.TryTranslateForDebugger</c>: no accessed or dirty
/// bits set, no fault raised). RAM and ROM only: an MMIO page would be an access to a device, with
/// its side effects, so it reads as unmapped, as does a page the guest has not mapped.
/// </summary>
public static class LinearMemory
{
    /// <summary>Reads up to into.Length bytes; returns how many were readable from the start (0: the first byte is not).</summary>
    public static int Read(Cpu.Cpu cpu, uint linear, Span<byte> into)
    {
        PhysicalMemory mem = cpu.Memory;
        for (int i = 0; i < into.Length; i++)
        {
            uint la = linear + (uint)i;
            if (!Readable(cpu, la, out uint pa)) return i;
            into[i] = mem.Read8(pa);
        }
        return into.Length;
    }

    /// <summary>Writes all of <paramref name="data"/> or nothing: false when some byte is not RAM or ROM.</summary>
    public static bool Write(Cpu.Cpu cpu, uint linear, ReadOnlySpan<byte> data)
    {
        var physical = new uint[data.Length];
        for (int i = 0; i < data.Length; i++)
            if (!Readable(cpu, linear + (uint)i, out physical[i])) return false;
        // Through Load: ROM is patched too (a breakpoint in firmware code), and decoded blocks of the page are dropped.
        for (int i = 0; i < data.Length; i++) cpu.Memory.Load(physical[i], data.Slice(i, 1));
        return true;
    }

    private static bool Readable(Cpu.Cpu cpu, uint linear, out uint physical) =>
        cpu.TryTranslateForDebugger(linear, out physical) && cpu.Memory.KindOf(physical) != PageKind.Mmio;
}
