namespace Virt.Cpu.Exits;

/// <summary>
/// The one way guest I/O and MMIO leave the engine. The engine knows nothing about processes or
/// sockets: a host (the monitor's exit router, a test) implements this and decides where each
/// access goes. Calls are made on the VCPU thread, synchronously, at an instruction boundary
/// state (the faulting instruction has not yet retired, so a guest fault raised by the handler's
/// caller is precise).
/// </summary>
public interface IExitHandler
{
    /// <summary>IN: <paramref name="size"/> is 1, 2 or 4 bytes.</summary>
    uint PortIn(ushort port, int size);

    /// <summary>OUT: <paramref name="size"/> is 1, 2 or 4 bytes; only the low size bytes of value count.</summary>
    void PortOut(ushort port, int size, uint value);

    /// <summary>
    /// INS / REP INS: fill <paramref name="data"/> with data.Length / size elements read from the
    /// port. The engine has already bounded the count by the REP count and by the guest buffer's page,
    /// and it writes the data to guest memory and updates EDI/ECX after the call.
    /// </summary>
    void PortInString(ushort port, int size, Span<byte> data)
    {
        for (int i = 0; i < data.Length; i += size)
        {
            uint v = PortIn(port, size);
            for (int b = 0; b < size; b++) data[i + b] = (byte)(v >> (8 * b));
        }
    }

    /// <summary>OUTS / REP OUTS: the elements the guest wrote, in order.</summary>
    void PortOutString(ushort port, int size, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length; i += size)
        {
            uint v = 0;
            for (int b = 0; b < size; b++) v |= (uint)data[i + b] << (8 * b);
            PortOut(port, size, v);
        }
    }

    /// <summary>
    /// Offers a chunk of REP INS/OUTS to be completed by the handler (<see cref="StringIoAssist"/>).
    /// True: done, ECX and ESI/EDI are updated and guest memory holds the data (INS). False: the
    /// engine moves the data itself through <see cref="PortInString"/> / <see cref="PortOutString"/>.
    /// </summary>
    bool TryAssistString(in StringIoAssist chunk) => false;

    /// <summary>A read from guest-physical address space that is neither RAM nor ROM. size is 1, 2, 4 or 8.</summary>
    ulong MmioRead(ulong address, int size);

    /// <summary>A write to guest-physical address space that is neither RAM nor ROM.</summary>
    void MmioWrite(ulong address, int size, ulong value);
}
