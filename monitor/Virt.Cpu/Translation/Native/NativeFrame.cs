using System.Runtime.InteropServices;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// The state block native code works on, in unmanaged memory at a fixed address (host register
/// R14 points at it while a block runs). The managed side fills it before the call and reads it
/// after; native code never touches a managed object, so the call needs no GC transition.
/// Offsets are the ones the emitter uses (<see cref="NativeBlockCompiler"/>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct NativeFrame
{
    /// <summary>Guest EAX..EDI by encoding number: loaded into host registers at entry, stored at exit.</summary>
    [FieldOffset(0)] public unsafe fixed uint R[8];
    /// <summary>The six arithmetic flags (CF PF AF ZF SF OF) and bit 1: popped into RFLAGS at entry, pushed at exit.</summary>
    [FieldOffset(32)] public uint Eflags;
    /// <summary>In: the block's linear start address. Out: where the guest continues.</summary>
    [FieldOffset(36)] public uint StartEip;
    [FieldOffset(40)] public uint NextEip;
    /// <summary>Out: ops completed in the pass that was running when the block left.</summary>
    [FieldOffset(44)] public int OpsDone;
    /// <summary>Out: back edges taken (whole passes of a block that loops to its own start).</summary>
    [FieldOffset(48)] public int Passes;
    /// <summary>In: back edges allowed before the block returns (the budget and event-check interval).</summary>
    [FieldOffset(52)] public int MaxPasses;
    /// <summary>Out: why the block left (<see cref="NativeExit"/>).</summary>
    [FieldOffset(56)] public int Exit;
    /// <summary>In: the current privilege's software TLB (read and write copies), pinned arrays of TlbEntry.</summary>
    [FieldOffset(64)] public nint TlbRead;
    [FieldOffset(72)] public nint TlbWrite;
    /// <summary>In: FS and GS bases (the other segments are flat with base 0 while native code runs).</summary>
    [FieldOffset(80)] public uint FsBase;
    [FieldOffset(84)] public uint GsBase;

    public const int OffEflags = 32, OffStartEip = 36, OffNextEip = 40, OffOpsDone = 44, OffPasses = 48, OffMaxPasses = 52,
        OffExit = 56, OffTlbRead = 64, OffTlbWrite = 72, OffFsBase = 80, OffGsBase = 84;
}

/// <summary>Why native code returned to the dispatcher.</summary>
internal enum NativeExit
{
    /// <summary>The block ended (branch, fall-through or the pass limit): NextEip holds where to go on.</summary>
    Done = 0,
    /// <summary>Op OpsDone needs the interpreter (TLB miss, page crossing, MMIO, a write to a code page): nothing of it ran.</summary>
    Interpret = 1,
}
