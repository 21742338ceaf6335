namespace Virt.DeviceModelKit.Assist;

/// <summary>
/// The port a string I/O assist moves elements through: libnvmm's nvmm_io callback, one element
/// per call, in guest order. Called under the exit handler's lock.
/// </summary>
public interface IPortIo
{
    /// <summary>One IN of <paramref name="size"/> bytes (1, 2 or 4).</summary>
    uint PortRead(ushort port, int size);

    /// <summary>One OUT of <paramref name="size"/> bytes (1, 2 or 4); only the low size bytes count.</summary>
    void PortWrite(ushort port, int size, uint value);
}
