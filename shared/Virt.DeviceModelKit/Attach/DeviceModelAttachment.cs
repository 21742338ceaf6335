using System.Net.Sockets;
using Virt.DeviceModelKit.Assist;
using Virt.DeviceModelKit.Exits;
using Virt.DeviceModelKit.Guest;
using Virt.DeviceModelKit.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModelKit.Attach;

/// <summary>
/// One attach of a device model to a monitor (docs/control-protocol.md), in the order a model uses
/// it: <see cref="ConnectAsync"/> (Hello with the secret, Welcome, the device state kept for it, map
/// guest RAM and the comm pages), <see cref="ClaimAsync"/> for each range, <see cref="StartServing"/>
/// (an <see cref="ExitServer"/> thread per VCPU), <see cref="ReadyAsync"/>, then
/// <see cref="ServeControlAsync"/> until the monitor says Shutdown. libnvmm's machine and VCPU
/// setup for this project's split: the monitor owns the VM, the model attaches to it.
/// </summary>
public sealed class DeviceModelAttachment : IAsyncDisposable
{
    /// <summary>Everything this library can do; the monitor accepts a subset (<see cref="Welcome"/>.Features).</summary>
    public const Features AllFeatures = Features.StringIo | Features.StateAccess | Features.IrqLines | Features.OutBatchRing
        | Features.InValueTable | Features.CommitOnCompletion | Features.StringAssist | Features.DeviceMetrics | Features.LateRestore;

    private readonly ControlConnection _conn;
    private readonly string _dir;
    private readonly bool _hasCrashArea;
    private readonly List<Thread> _servers = new();
    // Kept after the threads stop: the runtime counters sum them (written once, before Ready).
    private ExitServer[] _exitServers = [];
    private Socket? _doorbell;
    private uint _nextClaim;
    private volatile bool _running = true;
    // A RestoreState announcing more device states than this is a protocol error (the monitor's own bound on a model's saved states).
    private const uint MaxRestoreStates = 64;

    private DeviceModelAttachment(ControlConnection conn, Welcome welcome, IReadOnlyList<DeviceState> savedState, string dir,
        SharedRegion ram, SharedRegion comm, bool hasCrashArea)
    {
        _conn = conn;
        Welcome = welcome;
        SavedState = savedState;
        _dir = dir;
        Ram = ram;
        Comm = comm;
        _hasCrashArea = hasCrashArea;
        Memory = new GuestMemory(ram);
        Irq = new IrqLines(comm);
        State = new VcpuStateAccess(commitOnCompletion: (welcome.Features & Features.CommitOnCompletion) != 0);
        if ((welcome.Features & Features.InValueTable) != 0) InTable = new InTableWriter(comm, welcome.VcpuCount);
    }

    /// <summary>What the monitor said: the VM's size, the features it accepted, how exits wake the model.</summary>
    public Welcome Welcome { get; }

    public int VcpuCount => Welcome.VcpuCount;

    public ulong RamSize => Welcome.RamSize;

    /// <summary>Device state the monitor kept from the model this one replaces: restore it before claiming.</summary>
    public IReadOnlyList<DeviceState> SavedState { get; }

    /// <summary>True when <see cref="SavedState"/> is a crash snapshot: the guest ran on after it, devices recover rather than resume.</summary>
    public bool CrashSnapshot => Welcome.CrashSnapshot;

    /// <summary>Guest RAM, shared with the monitor.</summary>
    public SharedRegion Ram { get; }

    /// <summary>The comm pages, one per VCPU (and the crash-state area when the monitor made one).</summary>
    public SharedRegion Comm { get; }

    public GuestMemory Memory { get; }

    public IrqLines Irq { get; }

    /// <summary>GetState / SetState through the comm page.</summary>
    public VcpuStateAccess State { get; }

    /// <summary>Where cacheable reads are published; null when the monitor did not accept the IN table.</summary>
    public InTableWriter? InTable { get; }

    /// <summary>The claim flags the accepted features allow (a range's policy is masked with them).</summary>
    public ClaimFlags AllowedClaimFlags =>
        ((Welcome.Features & Features.OutBatchRing) != 0 ? ClaimFlags.BatchedWrites : 0)
        | ((Welcome.Features & Features.InValueTable) != 0 ? ClaimFlags.CachedReads : 0)
        | ClaimFlags.PlatformEvents // no feature: the ranges whose devices end or reset the machine say so
        | (TakesRegions ? ClaimFlags.Regions : 0);

    /// <summary>Whether the monitor takes side-effect-free regions (SharedMemory, Constant claims): protocol 1.5 and later.</summary>
    public bool TakesRegions => (Welcome.Version & 0xFFFF) >= Protocol.RegionsMinor;

    /// <summary>The comm region's crash-state area (docs/abi.md), or null when the monitor offers none.</summary>
    public unsafe byte* CrashStateArea => _hasCrashArea ? Comm.Base + CrashState.OffsetFor(VcpuCount) : null;

    /// <summary>False once the attach is over or the monitor died: the model's own threads (timers, input) poll it.</summary>
    public bool KeepRunning() => _running && ProcessLiveness.IsAlive(Welcome.MonitorPid);

    /// <summary>Hello, Welcome and the kept device state; then maps guest RAM and the comm pages. Throws <see cref="AttachRefusedException"/> when refused.</summary>
    /// <param name="secret">The per-launch secret; null: from the environment (<see cref="DeviceModelEnvironment"/>).</param>
    public static async Task<DeviceModelAttachment> ConnectAsync(string socketPath, string name, byte[]? secret = null, Features offered = AllFeatures)
    {
        secret ??= DeviceModelEnvironment.Secret();
        ControlConnection conn = await ControlConnection.ConnectAsync(socketPath);
        try
        {
            var (w, saved) = await Handshake.ExchangeAsync(conn, name, secret, offered);

            string dir = Path.GetDirectoryName(Path.GetFullPath(socketPath))!;
            SharedRegion ram = VmFiles.OpenRam(dir, w);
            try
            {
                SharedRegion comm = VmFiles.OpenComm(dir, w, out bool hasCrashArea);
                return new DeviceModelAttachment(conn, w, saved, dir, ram, comm, hasCrashArea);
            }
            catch
            {
                ram.Dispose();
                throw;
            }
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>Claims [start, start + length) for <paramref name="device"/> with a policy; throws <see cref="AttachRefusedException"/> when the monitor refuses.</summary>
    /// <param name="constantValue">With <see cref="ClaimFlags.Constant"/>: what every read of the range returns.</param>
    public async Task ClaimAsync(AddressSpace space, ulong start, ulong length, ClaimFlags flags, string device, uint constantValue = 0)
    {
        if ((flags & ClaimFlags.Regions) != 0 && !TakesRegions)
            throw new AttachRefusedException($"the monitor (protocol {Welcome.Version >> 16}.{Welcome.Version & 0xFFFF}) does not take shared-memory or constant regions (1.{Protocol.RegionsMinor})");
        await _conn.SendAsync(new Claim(_nextClaim++, (byte)space, start, length, (uint)(flags & AllowedClaimFlags), device, constantValue).ToFrame());
        var f = await _conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the claims");
        if (f.Type == MessageType.Refused) throw new AttachRefusedException($"refused: {Refused.Read(f.Payload).Reason}");
        if (f.Type != MessageType.ClaimResult) throw new ProtocolException($"expected ClaimResult, got {f.Type}");
        var result = ClaimResult.Read(f.Payload);
        if (!result.Accepted)
        {
            string range = $"{(space == AddressSpace.Port ? "ports" : "mmio")} 0x{start:X}-0x{start + length - 1:X}";
            throw new AttachRefusedException($"claim of {range} for {device} refused: {result.Reason}");
        }
    }

    /// <summary>
    /// Starts one exit server thread per VCPU, serving through <paramref name="handler"/> (before Ready:
    /// the guest may exit to the model as soon as the monitor sees it).
    /// </summary>
    /// <param name="confirmation">Where the model's console confirms output (exactly-once); null: a model without one.</param>
    /// <param name="observer">Sees each completion before the monitor is rung; null for honest models.</param>
    public void StartServing(IExitHandler handler, OutputConfirmation? confirmation = null, ICompletionObserver? observer = null)
    {
        if (_servers.Count > 0) throw new InvalidOperationException("already serving");
        _doorbell = Welcome.WakeMode == WakeMode.Socket ? VmFiles.ConnectDoorbell(_dir) : null;
        confirmation ??= new OutputConfirmation();
        var servers = new ExitServer[VcpuCount];
        for (int v = 0; v < VcpuCount; v++)
        {
            var server = servers[v] = new ExitServer(Comm, v, Welcome.WakeMode, Welcome.SpinMicros, handler, KeepRunning, confirmation, State,
                new StringIoAssistant(Ram, State), _doorbell, observer);
            var t = new Thread(server.Run) { Name = $"exits-vcpu{v}", IsBackground = true };
            t.Start();
            _servers.Add(t);
        }
        _exitServers = servers;
    }

    /// <summary>
    /// This process's runtime costs as device counters of the device "runtime" (reported with every
    /// MetricsReport, after the devices' own): GC collections and pauses, bytes allocated, and the exit
    /// threads' own allocations and waits, so that the monitor's report and `virt bench wakeup` can
    /// hold a round trip's tail against them (docs/wakeup.md).
    /// </summary>
    public IEnumerable<CounterValue> RuntimeCounterValues()
    {
        const string device = RuntimeCounters.DeviceName;
        foreach (var (name, value) in RuntimeCounters.Now().Named()) yield return new CounterValue(device, name, (ulong)Math.Max(0, value));
        ExitServer[] servers = _exitServers;
        yield return new CounterValue(device, "exits_served", (ulong)servers.Sum(s => s.Served));
        yield return new CounterValue(device, "exit_thread_bytes", (ulong)Math.Max(0, servers.Sum(s => s.AllocatedBytes)));
        yield return new CounterValue(device, "exit_waits_spun", (ulong)servers.Sum(s => s.ToDevice.SpunWaits));
        yield return new CounterValue(device, "exit_waits_slept", (ulong)servers.Sum(s => s.ToDevice.SleptWaits));
        yield return new CounterValue(device, "exit_waits_yielded", (ulong)servers.Sum(s => s.ToDevice.YieldedWaits));
        yield return new CounterValue(device, "exits_during_gc", (ulong)servers.Sum(s => s.ServedDuringGc));
    }

    /// <summary>All claims are made and exits are served: the guest may start.</summary>
    public Task ReadyAsync() => _conn.SendAsync(Ready.ToFrame());

    /// <summary>
    /// Answers the monitor until it says Shutdown: on SaveState (the guest is paused) sends what
    /// <paramref name="saveState"/> returns; on MetricsRequest (protocol 1.3) the devices' counters
    /// <paramref name="metrics"/> returns (none without it: a model offered Features.DeviceMetrics
    /// unless told otherwise, so it always answers). Stops the exit servers before it returns. When the monitor goes away without a
    /// Shutdown, throws IOException (and removes its VM directory if it died).
    /// </summary>
    /// <param name="metrics">(device, counter, value) triples, called on the control thread: take the devices' lock. At most <see cref="MetricsReport.MaxCounters"/> are sent.</param>
    /// <param name="restoreState">
    /// (1.6) On RestoreState (a VM that waited for a restore hands over the saved devices' state): takes them all and returns
    /// null, or none (the devices as they were) and returns why. Without it only an empty RestoreState is taken.
    /// </param>
    public async Task ServeControlAsync(Func<IReadOnlyList<DeviceState>> saveState, Func<IReadOnlyList<CounterValue>>? metrics = null,
        Func<IReadOnlyList<DeviceState>, string?>? restoreState = null)
    {
        bool orderly = false;
        try
        {
            while (await _conn.ReceiveAsync() is { } frame)
            {
                if (frame.Type == MessageType.Shutdown)
                {
                    orderly = true;
                    break;
                }
                if (frame.Type == MessageType.SaveState)
                {
                    IReadOnlyList<DeviceState> saved = saveState();
                    foreach (DeviceState d in saved) await _conn.SendAsync(d.ToFrame());
                    await _conn.SendAsync(new StateSaved((uint)saved.Count).ToFrame());
                }
                else if (frame.Type == MessageType.RestoreState)
                {
                    uint count = RestoreState.Read(frame.Payload).Count;
                    if (count > MaxRestoreStates) throw new ProtocolException($"RestoreState announces {count} device states, at most {MaxRestoreStates}");
                    var states = new List<DeviceState>((int)count);
                    for (uint i = 0; i < count; i++)
                    {
                        var f = await _conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during a RestoreState");
                        if (f.Type != MessageType.DeviceState) throw new ProtocolException($"expected DeviceState after RestoreState, got {f.Type}");
                        states.Add(DeviceState.Read(f.Payload));
                    }
                    string? refused = states.Count == 0 ? null
                        : restoreState is null ? "this device model takes no device state"
                        : restoreState(states);
                    await _conn.SendAsync(new StateRestored(refused is null, refused ?? "").ToFrame());
                }
                else if (frame.Type == MessageType.MetricsRequest)
                {
                    IReadOnlyList<CounterValue> counters = metrics?.Invoke() ?? [];
                    // The runtime's counters last: a model that fills the report with its own keeps them.
                    await _conn.SendAsync(new MetricsReport(counters.Concat(RuntimeCounterValues()).Take(MetricsReport.MaxCounters).ToList()).ToFrame());
                }
            }
        }
        catch (IOException) { }
        catch (SocketException) { }
        catch (ProtocolException) { } // a monitor that breaks the protocol is left as one that went away
        StopServing();
        if (orderly) return;
        // The monitor went away without a Shutdown: if it is dead, nobody else will clean up its VM directory.
        if (!ProcessLiveness.IsAlive(Welcome.MonitorPid) && VmDirectory.TryRemove(_dir))
            throw new IOException($"the monitor (pid {Welcome.MonitorPid}) died; removed {_dir}");
        throw new IOException("the monitor closed the control socket");
    }

    /// <summary>Stops the exit servers (each within a second) and closes the socket doorbell.</summary>
    public void StopServing()
    {
        _running = false;
        foreach (Thread t in _servers) t.Join(1000);
        _servers.Clear();
        _doorbell?.Dispose();
        _doorbell = null;
    }

    public async ValueTask DisposeAsync()
    {
        StopServing();
        Comm.Dispose();
        Ram.Dispose();
        await _conn.DisposeAsync();
    }
}
