using System.Diagnostics;
using Xunit.Abstractions;

namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// Boots Debian's i386 kernel with the busybox initramfs on the CPU core, in process, PIC + PIT
/// only (console=ttyS0 noapic nolapic acpi=off). Skipped (with the reason) unless
/// scripts/fetch-guest.sh has fetched the guest. VIRT_LINUX_BOOT_SECONDS bounds the wall time
/// (default 300); VIRT_LINUX_CONSOLE names a file that receives the console as it is written.
/// </summary>
public sealed class LinuxBootTests(ITestOutputHelper output)
{
    public const string CommandLine = "console=ttyS0 noapic nolapic acpi=off nokaslr panic=-1 earlyprintk=serial,ttyS0,115200";

    [LinuxGuestFact]
    public void Boots_to_the_initramfs_marker() => Boot(CommandLine, withApic: false);

    /// <summary>The same boot with the local APIC and I/O APIC found through the MP table.</summary>
    [LinuxGuestFact]
    public void Boots_to_the_initramfs_marker_with_apics() => Boot(ApicCommandLine, withApic: true);

    public const string ApicCommandLine = "console=ttyS0 acpi=off nokaslr panic=-1 earlyprintk=serial,ttyS0,115200";

    private void Boot(string commandLine, bool withApic)
    {
        byte[] kernel = File.ReadAllBytes(GuestFiles.Kernel);
        byte[] initrd = File.ReadAllBytes(GuestFiles.SmokeInitramfs);
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("VIRT_LINUX_BOOT_SECONDS"), out var s) ? s : 300;
        using var log = Environment.GetEnvironmentVariable("VIRT_LINUX_CONSOLE") is { Length: > 0 } path ? new FileStream(path, FileMode.Create) : null;
        // Virtual time (10 ns per instruction, a 100 MIPS machine) unless VIRT_LINUX_HOST_TIME=1.
        long nsPerInstruction = Environment.GetEnvironmentVariable("VIRT_LINUX_HOST_TIME") == "1" ? 0 : 10;
        using var pc = new InProcessPc(consoleEcho: log == null ? null : b => { log.WriteByte(b); if (b == '\n') log.Flush(); }, nanosecondsPerInstruction: nsPerInstruction, withApic: withApic);
        var layout = pc.LoadLinux(kernel, initrd, commandLine);
        output.WriteLine($"kernel {kernel.Length} bytes at 0x{layout.KernelAddress:X}, initrd {layout.InitrdSize} bytes at 0x{layout.InitrdAddress:X}, entry 0x{layout.EntryPoint:X}");

        if (long.TryParse(Environment.GetEnvironmentVariable("VIRT_LINUX_TRACE_FROM"), out long traceFrom))
        {
            pc.Tracer = new GuestTracer(pc.Cpu, int.TryParse(Environment.GetEnvironmentVariable("VIRT_LINUX_TRACE_LINES"), out int n) ? n : 200);
            pc.TraceFrom = traceFrom;
            if (Environment.GetEnvironmentVariable("VIRT_LINUX_TRACE_FILE") is { Length: > 0 } tf) pc.Tracer.File = new StreamWriter(tf);
        }
        if (Environment.GetEnvironmentVariable("VIRT_LINUX_PROFILE") == "1") pc.EipSamples = new();
        var wall = Stopwatch.StartNew();
        pc.Run(TimeSpan.FromSeconds(seconds), m => m.ConsoleText.Contains("VIRT-DONE", StringComparison.Ordinal));
        wall.Stop();
        pc.Tracer?.File?.Dispose();

        string text = pc.ConsoleText;
        output.WriteLine($"stopped: {pc.StopReasonText}; wall {wall.Elapsed.TotalSeconds:F1} s ({pc.HaltedWall.TotalSeconds:F1} s halted); " +
            $"guest clock {pc.GuestElapsed.TotalSeconds:F2} s ({(nsPerInstruction > 0 ? "virtual" : "host")}); {pc.Cpu.InstructionsRetired:N0} instructions " +
            $"({pc.Cpu.InstructionsRetired / wall.Elapsed.TotalSeconds / 1e6:F0} M/s); EIP 0x{pc.Cpu.State.Eip:X8}");
        output.WriteLine("unclaimed ports: " + string.Join(", ", pc.UnclaimedPorts.OrderBy(p => p.Key).Select(p => $"0x{p.Key:X}x{p.Value}")));
        if (pc.EipSamples != null)
        {
            output.WriteLine("---- hottest slice-end EIPs ----");
            var hottest = pc.EipSamples.OrderByDescending(p => p.Value).Take(20).ToList();
            foreach (var (eip, n) in hottest) output.WriteLine($"{eip:X8} {n}");
            output.WriteLine("---- code around the hottest EIP ----");
            foreach (var l in new GuestTracer(pc.Cpu).Disassemble(hottest[0].Key - 0x80, 0x100)) output.WriteLine(l);
        }
        if (pc.Tracer != null)
        {
            output.WriteLine("---- trace ----");
            foreach (var l in pc.Tracer.Lines) output.WriteLine(l);
        }
        var lines = text.Split('\n');
        output.WriteLine("---- last console lines ----");
        foreach (var l in lines.TakeLast(40)) output.WriteLine(l.TrimEnd('\r'));
        Assert.Contains("VIRT-MARKER uptime:", text);
    }
}
