using System.Diagnostics;

namespace Virt.Bench;

/// <summary>
/// One run of the same guest under qemu-system-i386 -accel tcg, timed from process start to exit
/// (so it includes QEMU's start-up and SeaBIOS; a baseline run subtracts those). The guest's
/// output arrives through -debugcon on stdout and is checked, so a run that did not execute the
/// guest cannot pass for a fast one.
/// </summary>
public static class QemuRun
{
    public const string Binary = "qemu-system-i386";

    public static (TimeSpan Elapsed, string Output) Execute(string kernelPath, string commandLine)
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[]
        {
            "-accel", "tcg", "-m", "64", "-kernel", kernelPath, "-append", commandLine,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-debugcon", "stdio",
            "-display", "none", "-serial", "none", "-monitor", "none", "-no-reboot",
        }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start {Binary} ({e.Message}): apt-get install qemu-system-x86", e);
        }
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            sw.Stop();
            // isa-debug-exit: QEMU exits with (status << 1) | 1; the guest writes 0 on success.
            if (p.ExitCode != 1)
                throw new InvalidOperationException($"{Binary} '{commandLine}' exited with {p.ExitCode}, expected 1 (guest status 0): {err.Result}\n{output}");
            return (sw.Elapsed, output);
        }
    }
}
