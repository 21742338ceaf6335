using System.Diagnostics;
using System.Text;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Cpu.Translation;
using Virt.Pc.Boot;

namespace Virt.Bench;

/// <summary>
/// One boot of a Multiboot guest on our CPU (native backend or interpreter), timed around Cpu.Run only (loading is not
/// guest execution). Port 0xE9 collects output; a write to port 0xF4 (isa-debug-exit) ends the run.
/// </summary>
public sealed class InterpreterRun : IExitHandler
{
    private readonly StringBuilder _console = new();
    private Virt.Cpu.Cpu? _cpu;
    private int? _status;

    public static (long Instructions, TimeSpan Elapsed, string Output, long Translated, TimeSpan TranslationTime) Execute(byte[] kernel, string commandLine, CpuEngine engine)
    {
        var host = new InterpreterRun();
        using var ram = new GuestRam(64 << 20);
        using var mem = new PhysicalMemory(ram);
        var cpu = new Virt.Cpu.Cpu(mem, host) { Engine = engine };
        host._cpu = cpu;
        MultibootLoader.Load(cpu, kernel, commandLine, []);
        var sw = Stopwatch.StartNew();
        StopReason r;
        do r = cpu.Run(long.MaxValue / 4);
        while (r == StopReason.BudgetExhausted);
        sw.Stop();
        if (host._status != 0)
            throw new InvalidOperationException($"guest '{commandLine}' did not exit cleanly: stop={r} status={host._status?.ToString() ?? "none"} {cpu.ShutdownReason}\n{host._console}");
        return (cpu.InstructionsRetired, sw.Elapsed, host._console.ToString(), cpu.BlocksTranslated, cpu.TranslationTime);
    }

    public uint PortIn(ushort port, int size) => 0xFFFF_FFFF;

    public void PortOut(ushort port, int size, uint value)
    {
        if (port == 0xE9) _console.Append((char)(byte)value);
        else if (port == 0xF4) { _status = (byte)value; _cpu!.RequestStop(); }
    }

    public ulong MmioRead(ulong address, int size) => ulong.MaxValue;

    public void MmioWrite(ulong address, int size, ulong value) { }
}
