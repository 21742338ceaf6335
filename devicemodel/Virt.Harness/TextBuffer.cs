using System.Text;
using Virt.Devices.Bus;
using Virt.Devices.Sinks;
using Virt.Shared.Routing;

namespace Virt.Harness;

/// <summary>
/// A VGA-style text buffer (80 x 25 cells of character and attribute, as at 0xB8000) declared shared
/// memory (<see cref="RegionKind.SharedMemory"/>): the guest writes it with no exit at all, and this
/// device reads it only when asked. A write to its render port prints the rows that are not blank to
/// the console, one line each, characters only (the attributes are a screen's business).
/// </summary>
public sealed class TextBuffer(ulong address, ushort renderPort, IByteSink console) : IDevice, IDeclaredRegions
{
    public const int Columns = 80, Rows = 25;
    private const int RegionSize = 4096; // one page: the monitor maps shared memory page by page

    private IDeviceHost? _host;

    public string Name => "text-buffer";

    /// <summary>The render port only: the buffer itself is a region, no access to it reaches this device.</summary>
    public IReadOnlyList<BusRange> Ranges { get; } = [BusRange.Ports(renderPort, 1)];

    public IReadOnlyList<DeclaredRegion> Regions { get; } = [new(BusRange.Mmio(address, RegionSize), RegionKind.SharedMemory)];

    /// <summary>Renders done (each a write to the render port).</summary>
    public int Renders { get; private set; }

    public void Attach(IDeviceHost host) => _host = host;

    public uint PortRead(ushort port, int size) => (uint)Renders & IoSize.AllOnes32(size);

    public void PortWrite(ushort port, int size, uint value)
    {
        if (_host is null) return;
        Renders++;
        var cells = new byte[Columns * Rows * 2];
        _host.ReadGuest(address, cells);
        var line = new StringBuilder(Columns);
        for (int row = 0; row < Rows; row++)
        {
            line.Clear();
            for (int col = 0; col < Columns; col++)
            {
                byte c = cells[(row * Columns + col) * 2];
                line.Append(c is >= 0x20 and < 0x7F ? (char)c : ' ');
            }
            string text = line.ToString().TrimEnd();
            if (text.Length == 0) continue;
            foreach (byte b in Encoding.ASCII.GetBytes(text + "\n")) console.Write(b);
        }
    }
}
