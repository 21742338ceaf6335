using Virt.Cpu.Debugging;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// What a debugger in the monitor (the GDB stub, the -d log) needs from the CPU beyond CpuState:
// linear addresses translated the way the guest's paging would, without its side effects; data
// watchpoints through the TLB; and a log of interrupts and unknown MSRs. None of it touches the
// instruction path: unset, the watch and the log are one null check each on slow paths.
public sealed partial class Cpu
{
    private ILinearWatch? _watch;
    private ICpuEventLog? _eventLog;

    /// <summary>
    /// Watched linear pages stay out of the TLB so their data accesses reach <see cref="ILinearWatch.Accessed"/>.
    /// Setting it (also to the same object after its ranges changed) flushes the TLB. Only while the CPU is not running.
    /// </summary>
    public ILinearWatch? Watch
    {
        get => _watch;
        set
        {
            _watch = value;
            FlushTlb();
        }
    }

    /// <summary>Where interrupts delivered and unknown MSRs are reported (-d int, guest_errors), or null.</summary>
    public ICpuEventLog? EventLog
    {
        get => _eventLog;
        set => _eventLog = value;
    }

    /// <summary>
    /// The physical address the guest's paging maps <paramref name="linear"/> to, for a debugger:
    /// the walk of the MMU's Translate (4 KiB and PSE pages, A20) with none of its effects (no
    /// accessed or dirty bits, no #PF, no CR2). False when the page is not present. Supervisor view:
    /// user/supervisor and read/write bits are not checked, as a kernel debugger reads any mapping.
    /// </summary>
    public bool TryTranslateForDebugger(uint linear, out uint physical)
    {
        physical = 0;
        uint a20 = _mem.A20Mask;
        if (!PagingEnabled)
        {
            physical = linear & a20;
            return true;
        }
        uint pde = _mem.Read32(((Cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC)) & a20);
        if ((pde & 1) == 0) return false;
        if ((pde & 0x80) != 0 && (Cr4 & ControlBits.CR4_PSE) != 0)
        {
            physical = ((pde & 0xFFC0_0000) | (linear & 0x003F_FFFF)) & a20;
            return true;
        }
        uint pte = _mem.Read32(((pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC)) & a20);
        if ((pte & 1) == 0) return false;
        physical = ((pte & 0xFFFF_F000) | (linear & 0xFFF)) & a20;
        return true;
    }

    private static InterruptOrigin OriginOf(InterruptKind kind) => kind switch
    {
        InterruptKind.Exception => InterruptOrigin.Exception,
        InterruptKind.Trap => InterruptOrigin.Trap,
        InterruptKind.External => InterruptOrigin.External,
        InterruptKind.Nmi => InterruptOrigin.Nmi,
        _ => InterruptOrigin.Software,
    };
}
