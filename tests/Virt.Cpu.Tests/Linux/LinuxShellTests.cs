using System.Diagnostics;
using Xunit.Abstractions;

namespace Virt.Cpu.Tests.Linux;

/// <summary>The interactive initramfs: boot to the busybox shell on ttyS0 and type a command into COM1.</summary>
public sealed class LinuxShellTests(ITestOutputHelper output)
{
    [LinuxInteractiveFact]
    public void Shell_on_the_serial_console_runs_a_typed_command()
    {
        byte[] kernel = File.ReadAllBytes(GuestFiles.Kernel);
        byte[] initrd = File.ReadAllBytes(GuestFiles.InteractiveInitramfs);
        using var pc = new InProcessPc(nanosecondsPerInstruction: 10);
        pc.LoadLinux(kernel, initrd, LinuxBootTests.CommandLine);
        var wall = Stopwatch.StartNew();
        pc.Run(TimeSpan.FromSeconds(300), m => m.ConsoleText.Contains("VIRT-SHELL", StringComparison.Ordinal));
        Assert.Contains("VIRT-SHELL", pc.ConsoleText);
        // Give the shell a moment to print its prompt, then type (within the UART's receive FIFO).
        var until = pc.GuestElapsed + TimeSpan.FromMilliseconds(500);
        pc.Run(TimeSpan.FromSeconds(30), m => m.GuestElapsed > until);
        pc.Type("echo answer-$((6*7))\n");
        pc.Run(TimeSpan.FromSeconds(60), m => m.ConsoleText.Contains("answer-42\r\n", StringComparison.Ordinal) || m.ConsoleText.Contains("answer-42\n", StringComparison.Ordinal));
        output.WriteLine($"wall {wall.Elapsed.TotalSeconds:F1} s, guest {pc.GuestElapsed.TotalSeconds:F2} s");
        foreach (var l in pc.ConsoleText.Split('\n').TakeLast(6)) output.WriteLine(l.TrimEnd('\r'));
        Assert.Contains("answer-42", pc.ConsoleText.Replace("answer-$((6*7))", "", StringComparison.Ordinal));
    }
}
