namespace Virt.Shared.Control;

/// <summary>Version, features and limits of the control protocol.</summary>
public static class Protocol
{
    /// <summary>Major: incompatible changes. A monitor refuses a Hello with another major.</summary>
    public const ushort Major = 1;
    /// <summary>
    /// 1: Welcome carries a state blob count; management and state-transfer messages (types 8-16); claim flags and the batching features.
    /// 2: Welcome says whether the blobs are a crash snapshot. 3: MetricsRequest / MetricsReport (types 17-18), for models that accept Features.DeviceMetrics.
    /// 4: StatsRequest / StatsSnapshot (types 19-20) on management connections: live counters for `virt top`;
    /// SaveRequest (type 21, virt save), a management message.
    /// 5: side-effect-free regions: claim flags SharedMemory and Constant, and the Constant claim's value after its device name.
    /// 6: restore into a waiting VM: RestoreRequest (type 22, virt restore), a management message; RestoreState / StateRestored
    /// (types 23-24) for models that accept Features.LateRestore.
    /// </summary>
    public const ushort Minor = 6;

    /// <summary>The first minor version whose monitor takes <see cref="ClaimFlags.SharedMemory"/> and <see cref="ClaimFlags.Constant"/>.</summary>
    public const ushort RegionsMinor = 5;
    public static uint Version => (uint)Major << 16 | Minor;

    /// <summary>Largest payload accepted; a bigger length is a protocol error and closes the connection.</summary>
    public const int MaxPayload = 64 * 1024;

    public const int HeaderSize = 8;
    public const int SecretSize = 32;

    /// <summary>Environment variable that carries the per-launch secret (hex) to a launched device model.</summary>
    public const string SecretEnvironmentVariable = "VIRT_DM_SECRET";

    /// <summary>Environment variable that carries the control socket path to a launched device model.</summary>
    public const string SocketEnvironmentVariable = "VIRT_DM_SOCKET";
}

/// <summary>Optional parts of the protocol, negotiated in Hello / Welcome (accepted = offered AND supported).</summary>
[Flags]
public enum Features : ulong
{
    None = 0,
    /// <summary>String I/O (INS/OUTS) goes to the device model through the data page, as one exit.</summary>
    StringIo = 1 << 0,
    /// <summary>The device model may commit state (state_commit) and ask for state (NeedState).</summary>
    StateAccess = 1 << 1,
    /// <summary>The device model drives IRQ lines through the IRQ words of VCPU 0's page.</summary>
    IrqLines = 1 << 2,
    /// <summary>Claims may carry ClaimFlags.BatchedWrites: those writes wait in the OUT batch ring.</summary>
    OutBatchRing = 1 << 3,
    /// <summary>Claims may carry ClaimFlags.CachedReads: those INs are answered from the IN value table.</summary>
    InValueTable = 1 << 4,
    /// <summary>
    /// A state commit rides on the completion of the exit (NVMM's setstate: no switch). Without it
    /// (`virt run --state naive`) the device model makes every SetState a round trip of its own, as an ioctl.
    /// </summary>
    CommitOnCompletion = 1 << 5,
    /// <summary>REP INS/OUTS go to the device model as assisted exits (ExitFlags.Assist): it moves the data through guest RAM.</summary>
    StringAssist = 1 << 6,
    /// <summary>
    /// (1.3) The device model answers MetricsRequest with its devices' counters (MetricsReport). The
    /// monitor asks only the models that offered it, so older models and models without counters never see the request.
    /// </summary>
    DeviceMetrics = 1 << 7,
    /// <summary>
    /// (1.6) The device model takes device state after Ready (RestoreState), all of it or none: a VM waiting for a
    /// restore (virt run --incoming) hands it the saved state of the model it stands in for. Without it the model cannot be restored into.
    /// </summary>
    LateRestore = 1 << 8,

    /// <summary>What this monitor implements today.</summary>
    MonitorSupported = StringIo | StateAccess | IrqLines | OutBatchRing | InValueTable | CommitOnCompletion | StringAssist | DeviceMetrics | LateRestore,
}

/// <summary>The Code of a Refused frame.</summary>
public enum RefusalCode : uint
{
    BadSecret = 1,
    VersionMismatch = 2,
    ProtocolError = 3,
    AlreadyAttached = 4,
    ClaimOverlap = 5,
    BadClaim = 6,
    /// <summary>A request the monitor cannot carry out (management connection; the connection stays open).</summary>
    RequestFailed = 7,
    /// <summary>A limit of the monitor is reached (too many connections, handshakes or device models); try again later.</summary>
    Busy = 8,
}

/// <summary>
/// The Flags of a Claim: the access policy of the range (the device side declares which
/// ports may be batched and which INs may be cached). Unknown bits are refused.
/// </summary>
[Flags]
public enum ClaimFlags : uint
{
    /// <summary>Every access is a round trip.</summary>
    None = 0,
    /// <summary>Writes go into the OUT batch ring (ports), or are coalesced there (MMIO). Needs Features.OutBatchRing.</summary>
    BatchedWrites = 1 << 0,
    /// <summary>Port reads may be answered from the IN value table. Needs Features.InValueTable; ports only.</summary>
    CachedReads = 1 << 1,
    /// <summary>
    /// The range's devices may end the VM, reset it or switch A20 (exits completed with StopVm or
    /// PlatformEvent). Any other range's StopVm / PlatformEvent is refused. Not with BatchedWrites:
    /// the event must ride on the exit of the access that caused it.
    /// </summary>
    PlatformEvents = 1 << 2,
    /// <summary>The access policies (the device model serves the range, sooner or later).</summary>
    All = BatchedWrites | CachedReads | PlatformEvents,
    /// <summary>
    /// (1.5) A side-effect-free MMIO range that is plain memory both sides share: the guest reads and
    /// writes it with no exit at all, and the device model sees the bytes in its mapping of `ram` at the
    /// same offset (e.g. a VGA text buffer it renders on request). Page aligned, inside the part of the
    /// RAM file the guest's map leaves as a hole (the legacy VGA window 0xA0000-0xBFFFF). No other flag.
    /// </summary>
    SharedMemory = 1 << 4,
    /// <summary>
    /// (1.5) A side-effect-free port range the monitor answers itself, forever: every IN returns the
    /// claim's value (its low Size bytes), every OUT is dropped (counted). No exit reaches the device
    /// model and no IN-table coherence is needed. The value follows the device name in the Claim. No other flag.
    /// </summary>
    Constant = 1 << 5,
    /// <summary>The ranges that need no device code at all. (Bit 3 stays reserved: monitors before 1.5 and after refuse it alike.)</summary>
    Regions = SharedMemory | Constant,
    /// <summary>Every bit a claim may carry; others are refused.</summary>
    Defined = All | Regions,
}
