using Virt.Devices.Bus;
using Virt.Monitor.Cli;
using Virt.Monitor.Launch;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Transport;
using Virt.Monitor.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The monitor's side of Hello to Ready (docs/control-protocol.md, "Attach"): the features this VM
/// offers, the comm region and port a greeted device model gets, its Welcome, and the checks on each
/// claim. Admission, routing and the roster are <see cref="AttachmentManager"/>'s.
/// </summary>
public sealed class AttachHandshake(VmDirectory dir, RunOptions options, ExitRouter router, ExitStatistics stats, VcpuGate gate,
    IVcpuStateAccess? state, IrqLineMux mux, Func<bool> ending)
{
    /// <summary>What this VM offers device models: `virt run --io naive` and `--state naive` take the batching and commit-on-completion features away.</summary>
    public Features Supported => Features.MonitorSupported
        & ~(options.IoBatched ? Features.None : Features.OutBatchRing | Features.InValueTable)
        & ~(options.StateCached ? Features.None : Features.CommitOnCompletion);

    /// <summary>
    /// A device model said Hello with the right secret: its own comm region (file comm-ID), the port
    /// its exits go through and its IRQ words. The attachment is <see cref="AttachmentPhase.Handshaking"/>
    /// in <paramref name="lifecycle"/>; nothing is routed to it yet.
    /// </summary>
    public DeviceModelAttachment Greet(uint id, Hello hello, ControlConnection conn, AttachmentLifecycle lifecycle, LaunchedDeviceModel? launch,
        StashedState restore, IDisposable? replacementHold, PortHooks hooks, bool platformAuthority)
    {
        string commName = $"{VmDirectory.CommFileName}-{id}";
        // The VCPU pages, then the crash-state area where the model keeps a snapshot of its devices (docs/abi.md).
        SharedRegion comm = SharedRegion.Create(Path.Combine(dir.Path, commName), CommPageLayout.VcpuStride + CrashState.Size);
        unsafe
        {
            CommPageAccess.Initialise(comm.Base, 0, 1);
            CrashState.Initialise(comm.Base + CrashState.OffsetFor(1));
        }
        Features features = hello.Features & Supported;
        // The port asks whether its peer lives and which claims it owns: the attachment, made just below.
        DeviceModelAttachment? att = null;
        // Socket doorbells exist only in `virt bench wakeup`, which drives the comm page with its own port.
        WakeMode wake = options.Wake == WakeMode.Socket ? WakeMode.Futex : options.Wake;
        // I/O exits cache what the I/O assist reads (NVMM: GPRS|SEGS|CRS|MSRS); MMIO exits nothing (docs/io.md).
        var port = new DeviceModelPort(comm, 0, wake, options.SpinMicros, stats, () => att!.Alive && !ending(), state,
            options.StateCached ? StateBits.Gprs | StateBits.Segs | StateBits.Crs | StateBits.Msrs : StateBits.None,
            TimeSpan.FromSeconds(options.DeviceModelTimeoutSeconds))
        {
            Batching = (features & Features.OutBatchRing) != 0,
            CachedReads = (features & Features.InValueTable) != 0,
            StringAssist = (features & (Features.StringAssist | Features.StateAccess)) == (Features.StringAssist | Features.StateAccess),
            FlushLatency = TimeSpan.FromMicroseconds(options.FlushMicros),
            RamWritten = hooks.RamWritten,
        };
        port.StopNeeded += gate.Nudge;
        port.PlatformEventRaised += e => hooks.PlatformEventRaised?.Invoke(e, $"device model {id} '{hello.Name}'");
        port.MayRaisePlatformEvents = (reason, address) =>
            router.ClaimAt(reason, address) is { } c && c.DeviceModel == att && (c.Policy & ClaimFlags.PlatformEvents) != 0;
        port.Lost = hooks.Lost;
        var irq = new IrqLineInput(comm, stats, (line, high) => mux.Set(id, line, high));
        port.Completed = irq.Poll;
        att = new DeviceModelAttachment(id, hello, conn, lifecycle, launch, features, comm, commName, port, irq, restore, replacementHold, platformAuthority);
        return att;
    }

    public Welcome WelcomeFor(DeviceModelAttachment att) => new(Protocol.Version, att.Features, 1, (ulong)options.MemoryBytes,
        VmDirectory.RamFileName, att.CommFileName, CommPageLayout.PagesPerVcpu, Environment.ProcessId, options.Wake, options.SpinMicros,
        (uint)att.Restore.Count, att.RestoreFromCrash);

    /// <summary>Checks a claim and, if it passes, enters it (not routed before Ready). Returns why it is refused, or null.</summary>
    public ClaimRefusal? Claim(DeviceModelAttachment att, Claim c)
    {
        var range = new BusRange((AddressSpace)c.Space, c.Start, c.Length);
        var flags = (ClaimFlags)c.Flags;
        ClaimRefusalReason? reason = c.Space > 1 ? ClaimRefusalReason.UnknownSpace
            : FlagsRefusal(att, range.Space, flags) is { } flagsRefusal ? flagsRefusal
            : c.Device.Length is 0 or > 64 ? ClaimRefusalReason.DeviceNameLength
            : null;
        if (reason is { } r) return new ClaimRefusal(r, range, c.Device, flags);
        IDevice? local = flags == ClaimFlags.Constant ? new ConstantPortRange(c.Device, range, c.Value) : null;
        return router.TryClaim(new BusClaim(range, c.Device, local, att, flags), out ClaimRefusal? refusal) ? null : refusal;
    }

    /// <summary>A claim's policy flags must be defined and backed by the features negotiated with this device model.</summary>
    private static ClaimRefusalReason? FlagsRefusal(DeviceModelAttachment att, AddressSpace space, ClaimFlags f)
    {
        if ((f & ~ClaimFlags.Defined) != 0) return ClaimRefusalReason.UndefinedFlags;
        // Side-effect-free regions (1.5): no device code runs for them, so no policy applies.
        if ((f & ClaimFlags.Regions) != 0)
        {
            if (f is not (ClaimFlags.SharedMemory or ClaimFlags.Constant)) return ClaimRefusalReason.RegionWithOtherFlags;
            if (f == ClaimFlags.SharedMemory && space != AddressSpace.Mmio) return ClaimRefusalReason.SharedMemoryOnPorts;
            return f == ClaimFlags.Constant && space != AddressSpace.Port ? ClaimRefusalReason.ConstantOnMmio : null;
        }
        if ((f & ClaimFlags.BatchedWrites) != 0 && (att.Features & Features.OutBatchRing) == 0) return ClaimRefusalReason.BatchedWritesWithoutRing;
        if ((f & ClaimFlags.CachedReads) != 0 && (att.Features & Features.InValueTable) == 0) return ClaimRefusalReason.CachedReadsWithoutTable;
        if ((f & ClaimFlags.CachedReads) != 0 && space != AddressSpace.Port) return ClaimRefusalReason.CachedReadsOnMmio;
        if ((f & ClaimFlags.PlatformEvents) != 0 && (f & ClaimFlags.BatchedWrites) != 0) return ClaimRefusalReason.PlatformEventsBatched;
        if ((f & ClaimFlags.PlatformEvents) != 0 && !att.PlatformAuthority) return ClaimRefusalReason.PlatformEventsNotOwner;
        return null;
    }
}
