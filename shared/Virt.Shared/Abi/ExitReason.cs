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
