using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Monitor.Attachment;
using Virt.Monitor.Cli;
using Virt.Monitor.Debug;
using Virt.Monitor.Logging;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Vm;
using Virt.Shared.Abi;

namespace Virt.Monitor.Vcpu;

/// <summary>
/// The VCPU thread: runs the guest in slices of at most <see cref="SliceInstructions"/>; between
/// slices it stops at the gate (attach, detach, swap, a failed device model), picks up IRQ lines,
/// advances the platform's timers, flushes batched writes that are due and sees whether a device
/// model ended the VM. A halted guest sleeps here until an interrupt arrives. Each exit inside a
/// slice goes from the CPU to <see cref="ExitRouter"/> and back without leaving this thread.
/// With a GDB stub (<paramref name="debugger"/>) the guest parks here while the debugger has it
/// stopped, and runs through <see cref="GuestDebugger.Run"/>; without one, nothing of it is touched.
/// </summary>
public sealed class VcpuLoop(Cpu.Cpu cpu, PcPlatform platform, DeviceModelRoster roster, ExitRouter router, VcpuGate gate,
    ExitStatistics stats, Func<string?> stallReason, Func<bool> ending, Action<VmEnd> requestEnd,
    GuestDebugger? debugger = null, GuestLog? log = null)
{
    private readonly GuestLog? _resetLog = log?.For(GuestLogItems.CpuReset);

    public const long SliceInstructions = 50_000;

    /// <summary>Runs until the VM ends (<c>ending</c> says so); every batched write has reached its device model when it returns.</summary>
    public void Run()
    {
        try
        {
            if (_resetLog is not null)
            {
                var s = cpu.State;
                _resetLog.Write(GuestLogItems.CpuReset, $"vcpu0 starts: CS:EIP={s.Cs.Selector:x4}:{s.Eip:x8} (base {s.Cs.Base:x8}) EFLAGS={s.Eflags:x8} CR0={s.Cr0:x8} CR3={s.Cr3:x8} CR4={s.Cr4:x8} ESP={s.Esp:x8}");
            }
            while (!ending())
            {
                // Attach, detach and swap happen here, at an instruction boundary; a failed device model parks the guest here too.
                gate.Checkpoint(stallReason, ending);
                roster.ReleaseRetired();
                if (ending()) break;
                if (debugger is { ParkRequested: true })
                {
                    // Stopped for the debugger: the guest's output so far reaches its device model before gdb hears of the stop.
                    roster.Flush(FlushReason.Halt);
                    debugger.Park(ending);
                    continue;
                }
                roster.PollIrqs();
                platform.AdvanceTimers();
                StopReason r;
                try
                {
                    long budget = platform.SliceBudget(SliceInstructions);
                    r = debugger is null ? cpu.Run(budget) : debugger.Run(budget);
                }
                catch (Exception e)
                {
                    requestEnd(new VmEnd(ExitStatus.InternalError, $"internal error in the VCPU: {ExitStatus.Describe(e)}", "internal"));
                    break;
                }
                roster.FlushIfDue(); // the latency bound of batched writes
                if (roster.StopValue is { } v)
                {
                    requestEnd(new VmEnd(ExitStatus.FromExitPort(v), roster.StopDescription(router), "exit-port"));
                    break;
                }
                switch (r)
                {
                    case StopReason.Shutdown:
                        _resetLog?.Write(GuestLogItems.CpuReset, $"shutdown: {cpu.ShutdownReason} (the VM ends: a PC resets here)");
                        requestEnd(new VmEnd(ExitStatus.Shutdown, $"the guest shut down: {cpu.ShutdownReason}", "shutdown"));
                        break;
                    case StopReason.Halted:
                        stats.Halt();
                        if ((cpu.State.Eflags & Flags.IF) == 0)
                        {
                            requestEnd(new VmEnd(ExitStatus.HaltedWithInterruptsOff, "the guest halted with interrupts off (a power-off: Linux halts so when it has no power-off hardware)", "halted"));
                            break;
                        }
                        roster.Flush(FlushReason.Halt);
                        WaitForInterrupt();
                        break;
                }
            }
        }
        finally
        {
            roster.Flush(FlushReason.Shutdown); // output never stays in the ring
            gate.End();
        }
    }

    private void WaitForInterrupt()
    {
        // Halted: guest time follows the host's until an interrupt arrives (Vm/GuestClock).
        platform.Clock.BeginIdle();
        try { WaitForInterruptCore(); }
        finally { platform.Clock.EndIdle(); }
    }

    private void WaitForInterruptCore()
    {
        while (!ending())
        {
            gate.Checkpoint(stallReason, ending);
            roster.PollIrqs();
            platform.AdvanceTimers();
            if (platform.HasInterrupt) return;
            if (debugger is { ParkRequested: true }) return; // Ctrl-C in gdb stops a halted guest too
            long timeout = 20_000;
            if (platform.NextDeadline is { } d) timeout = Math.Clamp((long)Math.Ceiling(d.TotalMicroseconds), 1, timeout);
            roster.WaitForIrq(timeout);
        }
    }
}
