using Virt.Cpu.Debugging;
using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using Virt.Cpu.Translation;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>
/// What the monitor's GDB stub and -d log take from the CPU (Cpu.Debug.cs): the page walk without
/// side effects, watched pages reported on every engine, and the interrupt and MSR log.
/// </summary>
public class DebuggerAccessTests
{
    private const uint PageDir = 0x100000, PageTable = 0x101000;

    private sealed class RecordingWatch(uint page) : ILinearWatch
    {
        public List<(uint Linear, int Size, bool Write)> Accesses { get; } = new();
        public bool WatchesPage(uint linearPage) => linearPage == page;
        public void Accessed(uint linear, int size, bool write) => Accesses.Add((linear, size, write));
    }

    private sealed class RecordingLog : ICpuEventLog
    {
        public List<(int Vector, InterruptOrigin Origin, uint Error, bool HasError)> Interrupts { get; } = new();
        public List<(uint Index, bool Write)> Msrs { get; } = new();
        public void Interrupt(int vector, InterruptOrigin origin, uint errorCode, bool hasErrorCode) => Interrupts.Add((vector, origin, errorCode, hasErrorCode));
        public void UnknownMsr(uint index, bool write, ulong value) => Msrs.Add((index, write));
    }

    [Fact]
    public void TranslationForTheDebuggerWalksThePageTablesWithoutTouchingThem()
    {
        using var m = new TestMachine();
        m.Load32(0x1000, a => a.hlt());
        m.Memory.Write32(PageDir, PageTable | 3);                  // accessed bit clear
        m.Memory.Write32(PageDir + 4, 0x0080_0000 | 0x83);        // 4 MiB page: linear 4 MiB -> physical 8 MiB
        m.Memory.Write32(PageTable + 5 * 4, 0x9000 | 3);           // linear 0x5000 -> physical 0x9000, not accessed
        m.Cpu.State.Cr4 = ControlBits.CR4_PSE;
        m.Cpu.State.Cr3 = PageDir;
        m.Cpu.State.Cr0 |= ControlBits.CR0_PG;
        uint cr2 = m.Cpu.State.Cr2;
        long faults = m.Cpu.PageFaults;

        Assert.True(m.Cpu.TryTranslateForDebugger(0x5123, out uint p));
        Assert.Equal(0x9123u, p);
        Assert.True(m.Cpu.TryTranslateForDebugger(0x0040_1234, out p));
        Assert.Equal(0x0080_1234u, p);
        Assert.False(m.Cpu.TryTranslateForDebugger(0x6000, out _));       // PTE not present
        Assert.False(m.Cpu.TryTranslateForDebugger(0x0100_0000, out _));  // PDE not present
        Assert.Equal(PageTable | 3, m.Memory.Read32(PageDir));            // no accessed bit set
        Assert.Equal(0x9000u | 3, m.Memory.Read32(PageTable + 5 * 4));
        Assert.Equal(cr2, m.Cpu.State.Cr2);                                  // no #PF raised
        Assert.Equal(faults, m.Cpu.PageFaults);
    }

    [Theory]
    [InlineData(CpuEngine.Interpreter)]
    [InlineData(CpuEngine.Native)]
    public void EveryAccessToAWatchedPageIsReportedOnEveryEngine(CpuEngine engine)
    {
        using var m = new TestMachine();
        m.Cpu.Engine = engine;
        m.Cpu.TranslationThreshold = 0; // compiled at once: the compiled code's TLB probes must miss on the watched page
        var watch = new RecordingWatch(0x7);
        m.Load32(0x1000, a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 500);
            a.Label(ref loop);
            a.mov(__dword_ptr[0x7010], ecx);  // watched page: a write
            a.mov(eax, __dword_ptr[0x7010]);  // and a read
            a.mov(__dword_ptr[0x8010], ecx);  // another page: not reported
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.Cpu.Watch = watch;
        Assert.Equal(StopReason.Halted, m.Run());

        Assert.Equal(500, watch.Accesses.Count(x => x is { Linear: 0x7010, Size: 4, Write: true }));
        Assert.Equal(500, watch.Accesses.Count(x => x is { Linear: 0x7010, Size: 4, Write: false }));
        // The other page keeps its TLB entry: only its first access (the miss) took the slow path.
        Assert.InRange(watch.Accesses.Count(x => x.Linear == 0x8010), 0, 2);
        Assert.Equal(1u, m.Memory.Read32(0x7010)); // the accesses themselves still happened
    }

    [Fact]
    public void TheEventLogHearsOfExceptionsAndUnknownMsrs()
    {
        using var m = new TestMachine();
        var log = new RecordingLog();
        m.Cpu.EventLog = log;
        var g = new ProtectedModeGuest(m);
        g.WriteIdt(13, Descriptors.Gate(ProtectedModeGuest.KCode, 0x20000, 0xE));
        g.Handler(0x20000, a =>
        {
            a.add(esp, 4);                  // the error code
            a.add(__dword_ptr[esp], 2);     // past the two-byte RDMSR
            a.iretd();
        });
        g.Load(a =>
        {
            a.mov(ecx, 0xC0DE_0001);
            a.rdmsr();
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());

        Assert.Equal([(0xC0DE_0001u, false)], log.Msrs);
        Assert.Contains(log.Interrupts, i => i is { Vector: 13, Origin: InterruptOrigin.Exception, Error: 0, HasError: true });
    }
}
