namespace Virt.Cpu.Tests.Vectors;

/// <summary>
/// The vector runner counts each failure once: a case that fails (here by a triple fault, the way
/// some real-mode cases end on an i686) must not make the cases after it fail on the same machine.
/// The cases are written here, in the suite's format; none of the suite's own are used.
/// </summary>
public class VectorRunnerTests
{
    private static Dictionary<string, int> Regs(int ip) => new()
    {
        ["ax"] = 0x1111,
        ["bx"] = 0x2222,
        ["cx"] = 0x3333,
        ["dx"] = 0x4444,
        ["cs"] = 0x1000,
        ["ss"] = 0x3000,
        ["ds"] = 0x2000,
        ["es"] = 0,
        ["sp"] = 0x8000,
        ["bp"] = 0,
        ["si"] = 0,
        ["di"] = 0,
        ["ip"] = ip,
        ["flags"] = 0x0002,
    };

    private static int[][] Code(int ip, params int[] bytes) => bytes.Select((b, i) => new[] { 0x10000 + ip + i, b }).ToArray();

    /// <summary>LIDT with limit 0, then INT3: #GP, #DF and shutdown. Its expectation claims a normal end, so it fails.</summary>
    private static VectorCase TripleFault() => new()
    {
        Idx = 0,
        Name = "lidt; int3 (shuts down)",
        Bytes = [0x0F, 0x01, 0x1E, 0x00, 0x02],
        Initial = new VectorState
        {
            Regs = Regs(0x100),
            Ram = [.. Code(0x100, 0x0F, 0x01, 0x1E, 0x00, 0x02, 0xCC, 0xF4), .. Enumerable.Range(0x20200, 6).Select(a => new[] { a, 0 })],
        },
        Final = new VectorState { Regs = new() { ["ip"] = 0x107 } },
    };

    private static VectorCase MovDh(int idx) => new()
    {
        Idx = idx,
        Name = "mov dh,8Ah",
        Bytes = [0xB6, 0x8A],
        Initial = new VectorState { Regs = Regs(0x300), Ram = Code(0x300, 0xB6, 0x8A, 0xF4) },
        Final = new VectorState { Regs = new() { ["dx"] = 0x8A44, ["ip"] = 0x303 } },
    };

    [Fact]
    public void AFailingCaseDoesNotPoisonTheCasesAfterIt()
    {
        var r = VectorRunner.RunCases("runner-test", [MovDh(1), TripleFault(), MovDh(2), MovDh(3)]);
        Assert.Equal(4, r.Total);
        Assert.True(r.Failed == 1, string.Join("\n", r.Failures));
        Assert.Equal(3, r.Passed);
        Assert.Contains("lidt", r.Failures.Single());
    }
}
