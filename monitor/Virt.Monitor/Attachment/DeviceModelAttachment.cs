using Virt.Monitor.Launch;
using Virt.Monitor.Routing;
using Virt.Monitor.Transport;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Attachment;

/// <summary>
/// One device model attached to the VM: its control connection, its own comm region (file
/// comm-ID in the VM directory: a comm page and a data page per VCPU), the port its exits go
/// through, its IRQ words, and, if the monitor started it, its process and the command to restart it.
/// Where it is in its life is <see cref="Lifecycle"/>'s alone; everything else is fixed at Hello.
/// </summary>
public sealed class DeviceModelAttachment : IDeviceModelEndpoint
{
    private readonly object _lock = new();
    private TaskCompletionSource<List<DeviceState>>? _saving;
    private List<DeviceState> _saved = new();
    private TaskCompletionSource<IReadOnlyList<CounterValue>>? _metrics;
    private TaskCompletionSource<StateRestored>? _restoring;
    private bool _metricsAsked;
    private IDisposable? _replacementHold;
    private volatile bool _connectionClosed;

    public DeviceModelAttachment(uint id, Hello hello, ControlConnection connection, AttachmentLifecycle lifecycle, LaunchedDeviceModel? launch,
        Features features, SharedRegion comm, string commFileName, DeviceModelPort port, IrqLineInput irq, StashedState restore, IDisposable? replacementHold,
        bool platformAuthority)
    {
        Id = id;
        Name = hello.Name;
        Pid = hello.Pid;
        Connection = connection;
        Lifecycle = lifecycle;
        Launch = launch;
        Features = features;
        Comm = comm;
        CommFileName = commFileName;
        Port = port;
        Irq = irq;
        Restore = restore.Blobs;
        RestoreFromCrash = restore.IsCrashSnapshot;
        _replacementHold = replacementHold;
        PlatformAuthority = platformAuthority;
    }

    public uint Id { get; }
    public string Name { get; }
    public int Pid { get; }
    /// <summary>It offered Features.DeviceMetrics: it answers MetricsRequest (other models are not asked).</summary>
    public bool AnswersMetrics => (Features & Features.DeviceMetrics) != 0;
    /// <summary>It takes device state after Ready (protocol 1.6): a VM waiting for a restore can hand it a saved model's state.</summary>
    public bool TakesLateState => (Features & Features.LateRestore) != 0;
    public ControlConnection Connection { get; }
    public AttachmentLifecycle Lifecycle { get; }
    public AttachmentPhase Phase => Lifecycle.Phase;
    public SharedRegion Comm { get; }
    public string CommFileName { get; }
    /// <summary>Offered in Hello and supported by this VM.</summary>
    public Features Features { get; }

    public DeviceModelPort Port { get; }
    public IrqLineInput Irq { get; }

    /// <summary>Set when the monitor started this device model (virt run --dm, virt attach).</summary>
    public LaunchedDeviceModel? Launch { get; }

    /// <summary>
    /// May claim ranges with PlatformEvents (end the VM, reset it, switch A20): one of the device models
    /// the VM was started with, or one that replaced such a model (after a crash or by virt attach --replace).
    /// </summary>
    public bool PlatformAuthority { get; }

    /// <summary>Device state handed to this device model after its Welcome (from the one it replaces).</summary>
    public IReadOnlyList<DeviceState> Restore { get; }

    /// <summary><see cref="Restore"/> is a crash snapshot of a model that failed (Welcome says so).</summary>
    public bool RestoreFromCrash { get; }

    public bool ConnectionClosed => _connectionClosed;

    /// <summary>The control connection is gone (or about to be closed): nothing may be sent on it.</summary>
    public void MarkConnectionClosed() => _connectionClosed = true;

    /// <summary>
    /// Lets the VCPU go that was held at Hello because this device model replaces a failed one: once
    /// it is routed, or its handshake ended. Idempotent.
    /// </summary>
    public void ReleaseReplacementHold() => Interlocked.Exchange(ref _replacementHold, null)?.Dispose();

    public bool Alive => !ConnectionClosed && (Launch is null || !Launch.Process.HasExited);

    public string Describe() => Lifecycle.Describe();

    /// <summary>The snapshot of its devices the model keeps in its comm region (docs/abi.md, "Crash state"), if it kept one.</summary>
    public unsafe List<DeviceState>? ReadCrashSnapshot() => CrashState.Read(Comm.Base + CrashState.OffsetFor(1));

    /// <summary>Asks the device model to save its devices (the VCPU is paused) and collects the blobs.</summary>
    public async Task<List<DeviceState>> SaveStateAsync(TimeSpan timeout)
    {
        var tcs = new TaskCompletionSource<List<DeviceState>>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _saving = tcs;
            _saved = new();
        }
        await Connection.SendAsync(EmptyMessage.Frame(MessageType.SaveState));
        return await tcs.Task.WaitAsync(timeout);
    }

    /// <summary>
    /// A VM that waited for a restore: hands the model saved device state after Ready (RestoreState, the
    /// DeviceState frames) and waits for its answer: taken, or refused with the model's devices as they were.
    /// </summary>
    public async Task<StateRestored> RestoreStateAsync(IReadOnlyList<DeviceState> states, TimeSpan timeout)
    {
        var tcs = new TaskCompletionSource<StateRestored>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock) _restoring = tcs;
        try
        {
            await Connection.SendAsync(new RestoreState((uint)states.Count).ToFrame());
            foreach (DeviceState s in states) await Connection.SendAsync(s.ToFrame());
            return await tcs.Task.WaitAsync(timeout);
        }
        finally
        {
            lock (_lock) if (_restoring == tcs) _restoring = null;
        }
    }

    /// <summary>The control connection received StateRestored.</summary>
    public void OnStateRestored(StateRestored answer)
    {
        lock (_lock)
        {
            if (_restoring is null) throw new ProtocolException("StateRestored without a RestoreState");
            _restoring.TrySetResult(answer);
            _restoring = null;
        }
    }

    /// <summary>The control connection received a DeviceState frame.</summary>
    public void OnDeviceState(DeviceState s)
    {
        lock (_lock)
        {
            if (_saving is null) throw new ProtocolException("DeviceState without a SaveState");
            if (_saved.Count >= 64) throw new ProtocolException("more than 64 DeviceState frames");
            _saved.Add(s);
        }
    }

    public void OnStateSaved(StateSaved done)
    {
        lock (_lock)
        {
            if (_saving is null) throw new ProtocolException("StateSaved without a SaveState");
            if (done.Count != _saved.Count) throw new ProtocolException($"StateSaved says {done.Count} blobs, {_saved.Count} were sent");
            _saving.TrySetResult(_saved);
            _saving = null;
        }
    }

    /// <summary>
    /// Asks an attached model for its devices' counters and waits at most <paramref name="timeout"/>;
    /// null when it is not asked (it did not offer Features.DeviceMetrics, or is not attached) or does not answer in time.
    /// </summary>
    public async Task<IReadOnlyList<CounterValue>?> RequestMetricsAsync(TimeSpan timeout)
    {
        if (!AnswersMetrics || ConnectionClosed || Phase != AttachmentPhase.Attached) return null;
        var tcs = new TaskCompletionSource<IReadOnlyList<CounterValue>>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            _metrics = tcs;
            _metricsAsked = true;
        }
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await Connection.SendAsync(EmptyMessage.Frame(MessageType.MetricsRequest), deadline.Token);
            return await tcs.Task.WaitAsync(deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            lock (_lock) if (_metrics == tcs) _metrics = null;
        }
    }

    /// <summary>The control connection received a MetricsReport. One that comes after the wait ended is dropped.</summary>
    public void OnMetricsReport(MetricsReport report)
    {
        lock (_lock)
        {
            if (!_metricsAsked) throw new ProtocolException("MetricsReport without a MetricsRequest");
            _metrics?.TrySetResult(report.Counters);
            _metrics = null;
        }
    }

    public void FailPendingSave(string why)
    {
        lock (_lock)
        {
            _saving?.TrySetException(new IOException(why));
            _restoring?.TrySetException(new IOException(why));
        }
    }

    private DeviceModelCounters _finalCounters;

    /// <summary>The comm region is unmapped (the model was retired and nothing can reach its pages any more).</summary>
    public bool RegionReleased { get; private set; }

    public unsafe DeviceModelCounters Counters => RegionReleased ? _finalCounters : CommPageAccess.Page(Comm.Base, 0).DeviceCounters;

    /// <summary>Unmaps the comm region (and closes its memfd), keeping the counters for the report. Call when no thread can touch it.</summary>
    public void ReleaseRegion()
    {
        if (RegionReleased) return;
        _finalCounters = Counters;
        RegionReleased = true;
        Comm.Dispose();
    }
}
