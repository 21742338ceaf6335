using System.Buffers.Binary;
using Virt.Pc.Board;
using Virt.Pc.Boot;

namespace Virt.Pc.Tests.Boot;

public class MpTableRoutingTests
{
    private const int FloatingPointerSize = 16, TableHeaderSize = 44;
    private const byte EntryProcessor = 0, EntryIoInterrupt = 3;

    [Fact]
    public void The_MP_table_routes_the_ISA_lines_as_the_chipset_is_wired()
    {
        byte[] mp = new MpTableBuilder().Build(PcMemoryMap.BiosSegment);
        var table = mp.AsSpan(FloatingPointerSize);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(table[34..]);
        Assert.Equal(PcMemoryMap.LocalApicBase, BinaryPrimitives.ReadUInt32LittleEndian(table[36..]));
        var routes = new List<(int IsaIrq, int Pin)>();
        int o = TableHeaderSize;
        for (int i = 0; i < count; i++)
        {
            byte type = table[o];
            if (type == EntryIoInterrupt)
            {
                Assert.Equal(PcBoard.IoApicId, table[o + 6]);
                routes.Add((table[o + 5], table[o + 7]));
            }
            o += type == EntryProcessor ? 20 : 8;
        }
        Assert.Equal(PcInterruptRouting.IoApicRoutes(), routes);
    }
}
