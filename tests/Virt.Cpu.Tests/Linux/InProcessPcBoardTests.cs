using Virt.Devices.Bus;
using Virt.Pc.Board;

namespace Virt.Cpu.Tests.Linux;

/// <summary>The in-process test machine is the board's PC: every board device, at the board's addresses, and only those.</summary>
public class InProcessPcBoardTests
{
    private const uint RamBytes = 16u << 20;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_test_machine_claims_exactly_the_board(bool withApic)
    {
        using var pc = new InProcessPc(RamBytes, withApic: withApic);
        IEnumerable<BoardDevice> board = withApic
            ? PcBoard.Devices
            : PcBoard.Devices.Where(d => d != PcBoard.LocalApic && d != PcBoard.IoApic);
        Assert.Equal(Sorted(board.SelectMany(d => d.Ranges)), Sorted(pc.Devices.SelectMany(d => d.Ranges)));
    }

    private static List<BusRange> Sorted(IEnumerable<BusRange> ranges) => ranges.OrderBy(r => r.Space).ThenBy(r => r.Start).ToList();
}
