using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Guests;
using Virt.Cpu.Tests.Linux;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// guests/pvwork.c, an interrupt-heavy C guest over a paravirtual layer, built with native
/// instructions (pvwork) and with the call table (pvwork_table), on the PC's 8259, PIT and COM1 in
/// one process on virtual time: both builds on every engine print the same lines, the ones the
/// workload's own arithmetic predicts, and only the table build enters the monitor.
/// </summary>
public sealed class PvWorkGuestTests
{
    private const uint Iterations = 4000, Ticks = 5, Every = 1000;

    public static TheoryData<string, string> Cases()
    {
        var d = new TheoryData<string, string>();
        foreach (string engine in new[] { Engines.Interpreter, Engines.Native })
            foreach (string guest in new[] { "pvwork", "pvwork_table" })
                d.Add(engine, guest);
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Both_builds_print_the_same_lines_on_every_engine(string engine, string guest)
    {
        using var pc = new InProcessPc(32u << 20, nanosecondsPerInstruction: 10);
        pc.Cpu.Paravirt = ParavirtFeatures.All;
        pc.Cpu.Engine = Engines.Of(engine);
        MultibootLoader.Load(pc.Cpu, File.ReadAllBytes(GuestBuild.Guest(guest)), $"iters={Iterations} ticks={Ticks} every={Every}", []);
        pc.Run(TimeSpan.FromMinutes(3), p => p.Peripherals.DebugExit.RequestedStatus is not null);

        // isa-debug-exit reports (v << 1) | 1: the guest returned 0.
        string output = pc.ConsoleText;
        Assert.True(pc.Peripherals.DebugExit.RequestedStatus == 1, $"{pc.StopReasonText}\n{output}");
        Assert.Equal(Expected(guest == "pvwork_table" ? "table" : "native"), output.Replace("\r", ""));
        Assert.True(pc.Pit.Metrics.TimerInterrupts >= Ticks, "the workload waited for its timer ticks");

        long[] calls = pc.Cpu.CallTableCalls;
        if (guest == "pvwork_table")
        {
            Assert.Equal(Iterations / Every + 1, calls[(int)VirtCall.ConsoleWrite]);
            Assert.Equal(1, calls[(int)VirtCall.PortWriteBatch]);
            Assert.Equal(2, calls[(int)VirtCall.ReadTime]);
        }
        else Assert.Equal(0L, pc.Cpu.Hypercalls);
        // The interpreter runs the table's hot entries inline (VMI's form), and prints the same lines.
        if (engine == Engines.Interpreter) Assert.Equal(guest == "pvwork_table", pc.Cpu.InlinedHotCalls > 0);
    }

    /// <summary>What pvwork prints, from its arithmetic (no timing enters it): the mode on 0xE9, the lines on COM1.</summary>
    private static string Expected(string mode)
    {
        var text = new System.Text.StringBuilder($"pvwork mode={mode}\n");
        var counters = new uint[64];
        uint h = 0x811C9DC5u, lines = 0;
        static uint Mix(uint h, uint v)
        {
            h ^= v;
            h *= 0x01000193u;
            return (h << 7 | h >> 25) + 0x9E3779B9u;
        }
        for (uint i = 0; i < Iterations; i++)
        {
            h = Mix(h, i);
            counters[i & 63] += h;
            if ((i & 3) == 0) h = Mix(h, counters[(i >> 2) & 63]);
            if (i % Every == 0) { text.Append($"i={i} h={h:x8}\n"); lines++; }
        }
        text.Append($"pvwork done lines={lines} h={h:x8}\n");
        return text.ToString();
    }
}
