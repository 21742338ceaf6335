namespace Virt.Integration.Tests.Debug;

/// <summary>
/// Debian's gdb, in batch mode, against the stub (-S --gdb tcp::PORT) and the gdbtarget Multiboot
/// guest with its symbols: what a kernel developer does with QEMU's gdbstub, done here.
/// </summary>
public class GdbSessionTests
{
    [Fact]
    public async Task A_real_gdb_breaks_at_a_symbol_steps_reads_registers_and_memory_hits_a_watchpoint_and_sees_the_exit()
    {
        var (run, port) = await DebugRuns.StartAsync(waitForDebugger: true);
        using var _ = run;
        string gdb = await DebugRuns.GdbAsync(port,
            "info registers eip",
            "break step_here",
            "continue",
            "bt",
            "info registers",
            "stepi",
            "print $pc",
            "x/2xw &counter",
            "print counter",
            "delete",
            "watch watched",
            "continue",
            "print/x watched",
            "delete",
            "continue");
        int status = await run.WaitAsync();

        // -S: the guest waited at the kernel's entry, before its first instruction.
        Assert.Matches(@"eip\s+0x100c04\s+0x100c04 <_start>", gdb);
        Assert.Contains("Breakpoint 1, step_here (x=x@entry=0)", gdb);
        Assert.Contains("in kmain ()", gdb);                         // the backtrace through the guest's frames
        Assert.Matches(@"cs\s+0x8\s+8", gdb);                          // segments from the target description
        Assert.Matches(@"cr0\s+0x11\s+17", gdb);                       // and the system registers (PE, ET)
        Assert.Matches(@"\$1 = \(void \(\*\)\(\)\) 0x1000(3[1-9a-f]|4[0-9a-f]) <step_here\+\d+>", gdb); // one instruction on
        Assert.Contains("$2 = 0", gdb);                                // counter before the loop has added anything
        Assert.Contains("Hardware watchpoint 2: watched", gdb);
        Assert.Contains("Old value = 0", gdb);
        Assert.Contains("New value = 4660", gdb);                      // 0x1234, written by touch_watched
        Assert.Contains("touch_watched", gdb);
        Assert.Contains("$3 = 0x1234", gdb);
        Assert.Contains("exited with code 07", gdb);                   // W07: virt's exit status for the guest's 3
        Assert.Equal(7, status);
        Assert.Contains("gdbtarget: counter=145 watched=1234", run.Stdout);
    }

    [Fact]
    public async Task A_real_gdb_uses_hardware_breakpoints_read_watchpoints_x87_registers_and_memory_writes_then_detaches()
    {
        var (run, port) = await DebugRuns.StartAsync(waitForDebugger: true);
        using var _ = run;
        string gdb = await DebugRuns.GdbAsync(port,
            "hbreak touch_watched",
            "continue",
            "info float",
            "print $fctrl",
            "set var counter = 99",
            "x/1dw &counter",
            "rwatch counter",
            "continue",
            "x/4xb 0xf0000000",
            "detach");
        int status = await run.WaitAsync();

        Assert.Contains("Hardware assisted breakpoint 1 at", gdb);
        Assert.Contains("Breakpoint 1, touch_watched (v=v@entry=4660)", gdb);
        Assert.Contains("Status Word:", gdb);                          // the x87 registers of the description
        Assert.Contains("Control Word:", gdb);
        Assert.Matches(@"\$1 = (64|895)", gdb);                        // FCW after reset (0x40) or FNINIT (0x37F)
        Assert.Matches(@"<counter>:\s+99", gdb);                       // written through M, read back through m
        Assert.Contains("Hardware read watchpoint 2: counter", gdb);
        Assert.Contains("Value = 99", gdb);                            // kmain reads it for its printf
        Assert.Contains("Cannot access memory at address 0xf0000000", gdb); // nothing there: E14
        Assert.Contains("[Inferior 1 (Remote target) detached]", gdb);
        Assert.Equal(7, status);                                       // after the detach, the guest ran to its end
        Assert.Contains("gdbtarget: counter=99 watched=1234", run.Stdout);
    }
}
