using Virt.Cpu.Debugging;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Monitor.Logging;

/// <summary>
/// The CPU's side of the -d log: interrupts and exceptions delivered (int) and unknown MSRs
/// (guest_errors), in lines modelled on QEMU's -d int ("v=0e e=0002 cpl=0 IP=0008:00101234 ...").
/// Installed on the CPU only when one of its items is on.
/// </summary>
public sealed class CpuEventLogger(Cpu.Cpu cpu, GuestLog log) : ICpuEventLog
{
    private readonly GuestLog? _interrupts = log.For(GuestLogItems.Int);
    private readonly GuestLog? _errors = log.For(GuestLogItems.GuestErrors);

    public void Interrupt(int vector, InterruptOrigin origin, uint errorCode, bool hasErrorCode)
    {
        if (_interrupts is null) return;
        CpuState s = cpu.State;
        string name = vector < 20 ? $" {Vectors.Name(vector)}" : "";
        string err = hasErrorCode ? $" e={errorCode:x4}" : "";
        string cr2 = vector == Vectors.PF ? $" CR2={s.Cr2:x8}" : "";
        _interrupts.Write(GuestLogItems.Int,
            $"v={vector:x2}{name} {origin.ToString().ToLowerInvariant()}{err} cpl={s.Cpl} IP={s.Cs.Selector:x4}:{s.Eip:x8} SP={s.Ss.Selector:x4}:{s.Esp:x8} EFLAGS={s.Eflags:x8}{cr2}"
            + $" after {cpu.InstructionsRetired} instructions");
    }

    public void UnknownMsr(uint index, bool write, ulong value)
    {
        if (_errors is null) return;
        CpuState s = cpu.State;
        _errors.Write(GuestLogItems.GuestErrors,
            write ? $"wrmsr to unknown MSR 0x{index:x} (value 0x{value:x}) at {s.Cs.Selector:x4}:{s.Eip:x8}: #GP"
                  : $"rdmsr of unknown MSR 0x{index:x} at {s.Cs.Selector:x4}:{s.Eip:x8}: #GP");
    }
}
