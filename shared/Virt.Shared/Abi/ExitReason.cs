namespace Virt.Shared.Abi;

/// <summary>Why the VCPU left the guest; the Reason word of the exit record.</summary>
public enum ExitReason : uint
{
    None = 0,
    PortIo = 1,
    Mmio = 2,
    /// <summary>HLT. Defined for the batching issue (drain the OUT ring before a halt); not yet published.</summary>
    Halt = 3,
    /// <summary>Triple fault or shutdown cycle. Defined; the VM end is announced over the control socket today.</summary>
    Shutdown = 4,
    /// <summary>
    /// No access of its own: the device model drains the OUT batch ring and completes (ring full,
    /// VCPU halted, latency timer, VM end). Address holds the <see cref="FlushReason"/> (informative).
    /// </summary>
    Flush = 5,
}

/// <summary>Why the monitor emptied the OUT batch ring (the Address of a Flush exit; statistics).</summary>
public enum FlushReason : uint
{
    /// <summary>A synchronous access to the device model took the pending writes with it.</summary>
    SyncAccess = 0,
    /// <summary>A cached IN depended on a pending write: the status-after-command case (a driver polls a status register right after a command).</summary>
    StaleRead = 1,
    Full = 2,
    Halt = 3,
    Timer = 4,
    Shutdown = 5,
    /// <summary>The device model is being detached or swapped out (guest paused).</summary>
    Detach = 6,
}

/// <summary>The Direction byte of the exit record.</summary>
public enum ExitDirection : byte
{
    /// <summary>OUT or MMIO write: Data (or the data page) holds what the guest wrote.</summary>
    Write = 0,
    /// <summary>IN or MMIO read: the device model writes the result into Data (or the data page).</summary>
    Read = 1,
}

/// <summary>The Flags byte of the exit record.</summary>
[Flags]
public enum ExitFlags : byte
{
    None = 0,
    /// <summary>INS/OUTS: Count elements of Size bytes live in the data page.</summary>
    String = 1,
    /// <summary>The string instruction had a REP prefix.</summary>
    Rep = 2,
    /// <summary>
    /// String I/O assist (NVMM's nvmm_assist_io): the elements move between the port and guest
    /// memory directly; the device model finds the buffer at Segment:(E)SI or ES:(E)DI through the
    /// guest's segments and page tables (GPRS|SEGS|CRS) and completes the instruction by committing
    /// ECX and ESI/EDI. The data page is not used.
    /// </summary>
    Assist = 4,
    /// <summary>With Assist: the instruction uses 16-bit addresses (SI/DI/CX).</summary>
    Address16 = 8,
}

/// <summary>The Status word the device model writes before it rings DoneSeq.</summary>
public enum CompletionStatus : uint
{
    /// <summary>Never a valid completion: the monitor clears Status to this before it publishes.</summary>
    Pending = 0,
    Ok = 1,
    /// <summary>No device answered: reads return all ones.</summary>
    Unhandled = 2,
    /// <summary>The device model set state_wanted; the monitor fills those areas, sets cached and republishes the same exit.</summary>
    NeedState = 3,
    /// <summary>The guest asked to end the VM (exit port). StatusArg holds the value written.</summary>
    StopVm = 4,
    /// <summary>Completed (read data valid) and a platform event for the monitor: StatusArg is a <see cref="Abi.PlatformEvent"/>.</summary>
    PlatformEvent = 5,
}
