using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Cpu.State;

namespace Virt.Cpu;

/// <summary>
/// One i686 VCPU: architectural state, the MMU with its software TLB, and the execution engine
/// (an interpreter over blocks pre-decoded with Iced into a compact form, keyed by guest-physical
/// address; hot blocks compiled to x86-64 host code by the native backend in Translation/Native). The class is split by concern over several files (Cpu.*.cs); the hot state lives in
/// plain fields of this object so the interpreter's inner loop reaches it with one load.
/// </summary>
public sealed partial class Cpu
{
    // ---- Architectural state (hot) ----
    internal readonly uint[] R = new uint[8];
    internal uint EipReg;
    internal readonly SegmentRegister[] Seg = new SegmentRegister[6];
    internal int Cpl;
    internal uint Cr0, Cr2, Cr3, Cr4;
    internal readonly uint[] Dr = new uint[8];
    internal DescriptorTableRegister Gdtr, Idtr;
    internal SegmentRegister Ldtr, Tr;

    private readonly PhysicalMemory _mem;
    private readonly IExitHandler _exits;
    private readonly GuestFault _fault = new();

    // Run-loop control, written by other threads.
    private volatile bool _stopRequested;
    private volatile bool _nmiPending;
    private bool _halted;
    private bool _nmiBlocked;
    private long _retired;

    public Cpu(PhysicalMemory memory, IExitHandler exits)
    {
        _mem = memory;
        _exits = exits;
        memory.ExitHandler ??= exits;
        memory.MappingChanged += FlushTlb;
        memory.CodePageWritten += InvalidateCodePage;
        _decoder16 = CreateDecoder(16);
        _decoder32 = CreateDecoder(32);
        State = new CpuState(this);
        InitTlb();
        Reset();
    }

    public PhysicalMemory Memory => _mem;

    /// <summary>Register-level view of the architectural state (get and set).</summary>
    public CpuState State { get; }

    public IInterruptController? InterruptController { get; set; }

    /// <summary>Why the VM shut down, after <see cref="StopReason.Shutdown"/>.</summary>
    public string? ShutdownReason { get; private set; }

    public long InstructionsRetired => _retired;

    /// <summary>True while the VCPU sits in HLT waiting for an interrupt.</summary>
    public bool IsHalted => _halted;

    /// <summary>Asks <see cref="Run"/> to return at the next block boundary. Any thread.</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>Raises the NMI input (edge). Any thread; delivered at the next block boundary.</summary>
    public void RaiseNmi() => _nmiPending = true;

    /// <summary>The power-on/RESET state of an i686: real mode at F000:FFF0 with CS base FFFF0000.</summary>
    public void Reset()
    {
        Array.Clear(R);
        R[2] = 0x0000_0633; // EDX holds the processor signature at reset (family 6, model 3, stepping 3)
        EipReg = 0xFFF0;
        for (int i = 0; i < 6; i++) Seg[i] = SegmentRegister.RealMode(0);
        Seg[SegmentIndex.CS] = new SegmentRegister { Selector = 0xF000, Base = 0xFFFF_0000, Limit = 0xFFFF, Attributes = 0x9B };
        Cpl = 0;
        Cr0 = ControlBits.CR0_ET | ControlBits.CR0_CD | ControlBits.CR0_NW;
        Cr2 = Cr3 = Cr4 = 0;
        Array.Clear(Dr);
        Dr[6] = 0xFFFF_0FF0;
        Dr[7] = 0x400;
        Gdtr = new DescriptorTableRegister { Base = 0, Limit = 0xFFFF };
        Idtr = new DescriptorTableRegister { Base = 0, Limit = 0xFFFF };
        Ldtr = new SegmentRegister { Limit = 0xFFFF, Attributes = 0x82 };
        Tr = new SegmentRegister { Limit = 0xFFFF, Attributes = 0x8B };
        SetEflags(Flags.Reserved1);
        _halted = false;
        _nmiBlocked = false;
        _nmiPending = false; // RESET drops a latched NMI edge
        _shadow = false;
        _movSsShadow = false;
        // RESET is how a PC leaves the shutdown state (the chipset resets the CPU after a shutdown
        // cycle): without clearing it, every Run after a triple fault would stop at once.
        ShutdownReason = null;
        _inBlock = false;
        _exitBlock = false;
        _executing = null;
        ResetMsrs();
        ResetFpu();
        ModeChanged();
    }

    /// <summary>
    /// Raises a guest exception from anywhere inside an instruction. Returns the exception so call
    /// sites read <c>throw Fault(...)</c> and the compiler knows control does not continue.
    /// </summary>
    internal GuestFault Fault(int vector, uint errorCode = 0) =>
        _fault.Set(vector, Vectors.PushesErrorCode(vector), errorCode);

    internal bool ProtectedMode => (Cr0 & ControlBits.CR0_PE) != 0;

    internal bool V86Mode => (_flags & Flags.VM) != 0;
}
