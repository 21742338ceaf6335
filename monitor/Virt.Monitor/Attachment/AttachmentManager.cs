using Virt.Devices.Bus;
using Virt.Monitor.Cli;
using Virt.Monitor.Control;
using Virt.Monitor.Launch;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Terminal;
using Virt.Monitor.Transport;
using Virt.Monitor.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The device models of one VM: attach (Hello to Ready), claims, routing, detach, swap with
/// state transfer, and what happens when one dies or hangs. Routing changes only with the VCPU
/// parked (<see cref="VcpuGate"/>). A failed device model leaves the VCPU stalled with its exit
/// held; the next device model to attach retires it, takes its place and gets the exit re-issued.
/// Called from control-socket tasks and, for <see cref="OnPortLost"/>, from the VCPU thread.
/// </summary>
public sealed class AttachmentManager
{
    private const int MaxAutomaticRestarts = 5;
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromSeconds(5);

    private readonly VmDirectory _dir;
    private readonly byte[] _secret;
    private readonly ExitRouter _router;
    private readonly VcpuGate _gate;
    private readonly ExitStatistics _stats;
    private readonly RunOptions _o;
    private readonly IVcpuStateAccess? _state;
    private readonly IrqLineMux _mux;
    private readonly Func<bool> _ending;
    private readonly List<DeviceModelAttachment> _all = new();
    private readonly List<LaunchedDeviceModel> _launched = new();
    private readonly ManualResetEventSlim _haltWake = new();
    private volatile DeviceModelAttachment[] _routed = [];
    private List<DeviceState> _stash = new();
    // Retired failed models whose comm regions the VCPU thread unmaps at its next checkpoint (ReleaseRetired).
    private readonly List<DeviceModelAttachment> _releaseLater = new();
    private int _releasePending;
    // The stash is a crash snapshot (a failed model's last self-reported state), not state saved at a pause.
    private bool _stashIsCrash;
    private uint _nextId;
    private int _restarts;
    private volatile bool _shutDown;

    public AttachmentManager(VmDirectory dir, byte[] secret, ExitRouter router, VcpuGate gate, ExitStatistics stats, RunOptions o,
        IVcpuStateAccess? state, IrqLineMux mux, Func<bool> ending)
    {
        _dir = dir;
        _secret = secret;
        _router = router;
        _gate = gate;
        _stats = stats;
        _o = o;
        _state = state;
        _mux = mux;
        _ending = ending;
    }

    public byte[] Secret => _secret;

    /// <summary>A device model's platform event (reset, A20), raised on the VCPU thread after the exit that caused it.</summary>
    public Action<uint, string>? PlatformEventRaised { get; init; }

    /// <summary>A device model wrote guest RAM (string I/O assist): decoded code there is stale.</summary>
    public Action<uint, uint>? RamWritten { get; init; }

    /// <summary>virt's console: the bundled PC model started with the console on stdio gets the keyboard through it.</summary>
    public GuestConsole? GuestConsole { get; init; }

    /// <summary>Called when the user quits from the console (Ctrl-A X).</summary>
    public Action? ConsoleQuit { get; init; }

    /// <summary>The device models exits are routed to now (read by the VCPU thread).</summary>
    public DeviceModelAttachment[] Routed => _routed;

    public DeviceModelAttachment[] All
    {
        get { lock (_all) return _all.ToArray(); }
    }

    private void Log(string message)
    {
        if (!_o.Quiet) Console.Error.WriteLine($"virt: {message}");
    }

    // ---- attach, called by the control server ----

    /// <summary>
    /// A device model said Hello with the right secret: give it its own comm region and port. Any
    /// failed device model is retired now and the VCPU held until this one is routed, so the exit
    /// the failed one held is re-issued to it.
    /// </summary>
    public async Task<DeviceModelAttachment> BeginAttachAsync(Hello hello, ControlConnection conn)
    {
        IDisposable? hold = null;
        if (All.Any(a => a.State == AttachmentState.Failed))
        {
            hold = await _gate.PauseAsync();
            foreach (DeviceModelAttachment failed in All.Where(a => a.State == AttachmentState.Failed))
            {
                KeepCrashSnapshot(failed);
                Retire(failed, $"replaced by '{hello.Name}' (pid {hello.Pid})");
            }
        }
        uint id = Interlocked.Increment(ref _nextId);
        string commName = $"{VmDirectory.CommFileName}-{id}";
        // The VCPU pages, then the crash-state area where the model keeps a snapshot of its devices (docs/abi.md).
        SharedRegion comm = SharedRegion.Create(Path.Combine(_dir.Path, commName), CommPageLayout.VcpuStride + CrashState.Size);
        unsafe
        {
            CommPageAccess.Initialise(comm.Base, 0, 1);
            CrashState.Initialise(comm.Base + CrashState.OffsetFor(1));
        }
        var att = new DeviceModelAttachment(id, hello, conn, comm, commName)
        {
            Features = hello.Features & Supported,
            ReplacementHold = hold,
        };
        att.Launch = LaunchOf(hello.Pid);
        TimeSpan timeout = TimeSpan.FromSeconds(_o.DeviceModelTimeoutSeconds);
        // Socket doorbells exist only in `virt bench wakeup`, which drives the comm page with its own port.
        WakeMode wake = _o.Wake == WakeMode.Socket ? WakeMode.Futex : _o.Wake;
        // I/O exits cache what the I/O assist reads (NVMM: GPRS|SEGS|CRS|MSRS); MMIO exits nothing (docs/io.md).
        var port = new DeviceModelPort(comm, 0, wake, _o.SpinMicros, _stats, () => att.Alive && !_ending(), _state,
            _o.StateCached ? StateBits.Gprs | StateBits.Segs | StateBits.Crs | StateBits.Msrs : StateBits.None, timeout)
        {
            Batching = (att.Features & Features.OutBatchRing) != 0,
            CachedReads = (att.Features & Features.InValueTable) != 0,
            StringAssist = (att.Features & (Features.StringAssist | Features.StateAccess)) == (Features.StringAssist | Features.StateAccess),
            FlushLatency = TimeSpan.FromMicroseconds(_o.FlushMicros),
            RamWritten = RamWritten,
        };
        port.StopNeeded += () => _gate.Nudge();
        port.PlatformEventRaised += e => PlatformEventRaised?.Invoke(e, $"device model {id} '{hello.Name}'");
        port.MayRaisePlatformEvents = (reason, address) =>
            _router.ClaimAt(reason, address) is { } c && c.DeviceModel == att && (c.Policy & ClaimFlags.PlatformEvents) != 0;
        port.Lost = OnPortLost;
        att.Port = port;
        att.Irq = new IrqLineInput(comm, _stats, (line, high) => _mux.Set(id, line, high));
        port.Completed = att.Irq.Poll;
        lock (_all)
        {
            att.Restore = _stash;
            att.RestoreFromCrash = _stashIsCrash;
            _stash = new();
            _stashIsCrash = false;
            _all.Add(att);
        }
        return att;
    }

    private LaunchedDeviceModel? LaunchOf(int pid)
    {
        lock (_launched) return _launched.FirstOrDefault(l => l.Process.Pid == pid);
    }

    public Welcome WelcomeFor(DeviceModelAttachment att) => new(Protocol.Version, att.Features, 1, (ulong)_o.MemoryBytes,
        VmDirectory.RamFileName, att.CommFileName, CommPageLayout.PagesPerVcpu, Environment.ProcessId, _o.Wake, _o.SpinMicros,
        (uint)att.Restore.Count, att.RestoreFromCrash);

    /// <summary>
    /// A failed model is being replaced: its last crash snapshot (if it kept one) becomes the state the
    /// replacement restores, so the guest's devices keep the configuration its drivers set up.
    /// </summary>
    private void KeepCrashSnapshot(DeviceModelAttachment failed)
    {
        List<DeviceState>? snapshot;
        unsafe { snapshot = CrashState.Read(failed.Comm.Base + CrashState.OffsetFor(1)); }
        if (snapshot is not { Count: > 0 }) return;
        lock (_all)
        {
            if (_stash.Count > 0) return;
            _stash = snapshot;
            _stashIsCrash = true;
        }
        Log($"kept the crash snapshot of '{failed.Name}': {string.Join(", ", snapshot.Select(s => $"{s.Device} ({s.Blob.Length} bytes)"))}");
    }

    public string? Claim(DeviceModelAttachment att, Claim c) =>
        c.Space > 1 ? $"unknown address space {c.Space}"
        : ClaimFlagsError(att, c) is { } flagsError ? flagsError
        : c.Device.Length is 0 or > 64 ? "device name must be 1-64 characters"
        : _router.TryClaim(new BusRange((BusSpace)c.Space, c.Start, c.Length), c.Device, local: null, owner: att, (ClaimFlags)c.Flags);

    /// <summary>A claim's policy flags must be defined and backed by the features negotiated with this device model.</summary>
    private static string? ClaimFlagsError(DeviceModelAttachment att, Claim c)
    {
        var f = (ClaimFlags)c.Flags;
        if ((f & ~ClaimFlags.All) != 0) return $"claim flags 0x{c.Flags:X} have undefined bits";
        if ((f & ClaimFlags.BatchedWrites) != 0 && (att.Features & Features.OutBatchRing) == 0) return "batched writes need the OutBatchRing feature";
        if ((f & ClaimFlags.CachedReads) != 0 && (att.Features & Features.InValueTable) == 0) return "cached reads need the InValueTable feature";
        if ((f & ClaimFlags.CachedReads) != 0 && c.Space != (byte)BusSpace.Port) return "cached reads are for port ranges only";
        if ((f & ClaimFlags.PlatformEvents) != 0 && (f & ClaimFlags.BatchedWrites) != 0) return "platform events need synchronous writes (not BatchedWrites)";
        return null;
    }

    /// <summary>What this VM offers device models: `virt run --io naive` and `--state naive` take the batching and commit-on-completion features away.</summary>
    private Features Supported => Features.MonitorSupported
        & ~(_o.IoBatched ? Features.None : Features.OutBatchRing | Features.InValueTable)
        & ~(_o.StateCached ? Features.None : Features.CommitOnCompletion);

    /// <summary>Ready: route the device model's claims (VCPU parked for the switch).</summary>
    public async Task CompleteAttachAsync(DeviceModelAttachment att)
    {
        using (await _gate.PauseAsync())
        {
            att.State = AttachmentState.Active;
            Publish();
            att.ReplacementHold?.Dispose();
        }
        Log($"device model {att.Id} '{att.Name}' (pid {att.Pid}) attached: {string.Join(", ", _router.Claims.Where(c => c.DeviceModel == att).Select(c => $"{c.Device} {c.Range}"))}");
        att.Ready.TrySetResult();
    }

    /// <summary>The control connection of a device model closed (or broke the protocol).</summary>
    public void OnConnectionLost(DeviceModelAttachment att, string why)
    {
        att.ConnectionClosed = true;
        att.FailPendingSave(why);
        switch (att.State)
        {
            case AttachmentState.Attaching:
                att.State = AttachmentState.Detached;
                _router.RemoveClaimsOf(att);
                att.ReplacementHold?.Dispose();
                att.Ready.TrySetException(new IOException(why));
                Abandon(att);
                break;
            case AttachmentState.Active:
                MarkFailed(att, why, null);
                break;
        }
    }

    /// <summary>
    /// A handshake that ended before Ready: nothing was ever routed to it, so everything it was given
    /// goes now (its entry, comm file and mapping; the connection is closed by the control server),
    /// and state blobs meant for it are kept for the next device model. Without this every abandoned
    /// Hello kept a comm file, a mapping and descriptors until the VM ended (issue 13).
    /// </summary>
    private void Abandon(DeviceModelAttachment att)
    {
        lock (_all)
        {
            _all.Remove(att);
            if (att.Restore.Count > 0 && _stash.Count == 0)
            {
                _stash = att.Restore;
                _stashIsCrash = att.RestoreFromCrash;
            }
            // Under the lock that Kick takes: no other thread can be touching this region's IRQ words.
            att.Comm.Dispose();
        }
        _mux.Remove(att.Id);
        try { File.Delete(Path.Combine(_dir.Path, att.CommFileName)); } catch (IOException) { }
    }

    /// <summary>
    /// Why another device model may not start a handshake now (null: it may). Bounds what a peer
    /// holding the secret can make the monitor allocate: each handshake costs a comm file and a mapping.
    /// </summary>
    public string? AdmissionError()
    {
        lock (_all)
        {
            int attaching = 0, live = 0;
            foreach (DeviceModelAttachment a in _all)
            {
                if (a.State == AttachmentState.Attaching) attaching++;
                if (a.State != AttachmentState.Detached) live++;
            }
            if (attaching >= Limits.MaxPendingAttaches) return $"{attaching} device models are already between Hello and Ready (at most {Limits.MaxPendingAttaches})";
            if (live >= Limits.MaxDeviceModels) return $"{live} device models are attached or attaching (at most {Limits.MaxDeviceModels})";
            return null;
        }
    }

    // ---- failure ----

    private void MarkFailed(DeviceModelAttachment att, string why, InFlightExit? exit)
    {
        lock (att)
        {
            if (att.State != AttachmentState.Active) return;
            att.Failure = why;
            att.HeldExit = exit;
            att.State = AttachmentState.Failed;
        }
        if (_ending() || _shutDown) return;
        Console.Error.WriteLine($"virt: device model {att.Id} '{att.Name}' (pid {att.Pid}): {why}{(exit is null ? "" : $"; exit held: {exit}")}; "
            + $"the guest is paused until a device model attaches (virt attach {Environment.ProcessId} --dm ...)");
        _gate.Nudge();
        if (_o.RestartDeviceModel && att.Launch is { } launch)
        {
            if (Interlocked.Increment(ref _restarts) > MaxAutomaticRestarts)
            {
                Console.Error.WriteLine($"virt: not restarting '{att.Name}': {MaxAutomaticRestarts} automatic restarts already");
                return;
            }
            _ = Task.Run(() =>
            {
                // A hung device model still holds its exit: it goes before the new one starts.
                launch.Process.Kill();
                try
                {
                    var again = Start(launch.Command);
                    Log($"restarting device model '{att.Name}': pid {again.Process.Pid}");
                }
                catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception)
                {
                    Console.Error.WriteLine($"virt: could not restart the device model: {e.Message}");
                }
            });
        }
    }

    /// <summary>VCPU thread: a device model died or hung inside an exit. Held until it is replaced; returns where the exit goes now.</summary>
    private DeviceModelPort? OnPortLost(DeviceModelPort port, InFlightExit exit)
    {
        DeviceModelAttachment? att = All.FirstOrDefault(a => a.Port == port);
        if (att is null) return null;
        MarkFailed(att, port.Failed ?? "failed", exit);
        _gate.Stall($"device model {att.Id} '{att.Name}' {att.Failure}; exit held: {exit}", () => att.State != AttachmentState.Failed, _ending);
        if (_ending()) return null;
        return _router.OwnerOf(exit.Reason, exit.Address)?.Port;
    }

    /// <summary>
    /// VCPU thread, at a checkpoint (outside every exit): unmaps the comm regions of retired failed models,
    /// so swaps and replacements over a long run do not pile up mappings and descriptors. No allocation
    /// when there is nothing to do (called every slice).
    /// </summary>
    public void ReleaseRetired()
    {
        if (Volatile.Read(ref _releasePending) == 0) return;
        lock (_all)
        {
            foreach (DeviceModelAttachment a in _releaseLater) a.ReleaseRegion();
            _releaseLater.Clear();
            _releasePending = 0;
        }
    }

    /// <summary>VCPU thread, between slices: why the guest must stay paused (a failed device model holds it), or null.</summary>
    /// Called every slice: walks the list under its lock instead of copying it (no allocation).
    public string? StallReason()
    {
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.State == AttachmentState.Failed) return $"device model {a.Id} '{a.Name}' {a.Failure}";
        return null;
    }

    /// <summary>Who ended the VM and how, for the end message (called once, after <see cref="StopValue"/> was set).</summary>
    public string StopDescription()
    {
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.Port.StopValue is { } v)
                {
                    var (reason, address) = a.Port.StopExit;
                    string where = reason == Virt.Shared.Abi.ExitReason.PortIo ? $"port 0x{address:X}" : $"address 0x{address:X}";
                    string device = _router.ClaimAt(reason, address)?.Device ?? "?";
                    return $"device model {a.Id} '{a.Name}' ended the VM with value 0x{v:X}, at the guest's access to '{device}' ({where})";
                }
        return "a device model ended the VM";
    }

    /// <summary>The value the guest wrote to an exit port served by any device model, if it did (checked every slice, no allocation).</summary>
    public uint? StopValue
    {
        get
        {
            lock (_all)
                foreach (DeviceModelAttachment a in _all)
                    if (a.Port.StopValue is { } v) return v;
            return null;
        }
    }

    // ---- detach, swap ----

    private void Publish()
    {
        _router.Publish(dm => ((DeviceModelAttachment)dm).State == AttachmentState.Active);
        _routed = All.Where(a => a.State == AttachmentState.Active).ToArray();
    }

    /// <summary>Takes a device model out: its claims go, its IRQ lines drop, it is told to exit. Call with the VCPU parked.</summary>
    private void Retire(DeviceModelAttachment att, string why)
    {
        AttachmentState was = att.State;
        att.State = AttachmentState.Detached;
        _router.RemoveClaimsOf(att);
        _mux.Remove(att.Id);
        Publish();
        if (was != AttachmentState.Failed) att.Failure = why;
        Log($"device model {att.Id} '{att.Name}' detached: {why}");
        // Its comm file goes now. Its mapping: at once if it was active (the VCPU is parked outside any exit);
        // a failed one's VCPU may still be inside its held exit, reading its data page: at the next checkpoint.
        try { File.Delete(Path.Combine(_dir.Path, att.CommFileName)); } catch (IOException) { }
        lock (_all)
        {
            if (was == AttachmentState.Failed)
            {
                _releaseLater.Add(att);
                Volatile.Write(ref _releasePending, 1);
            }
            else att.ReleaseRegion(); // under the lock Kick takes
        }
        _ = Task.Run(async () =>
        {
            if (!att.ConnectionClosed)
            {
                try { await att.Connection.SendAsync(new Shutdown(0, $"detached: {why}").ToFrame()); }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException) { }
            }
            // A hung or dead one of ours: make sure it is gone, then let go of it (its stdin pipe, when the
            // console relayed to it, is a descriptor per swap otherwise).
            if (att.Launch is { } l)
            {
                l.Process.WaitOrKill(was == AttachmentState.Failed ? TimeSpan.Zero : TimeSpan.FromSeconds(3));
                lock (_launched) _launched.Remove(l);
                l.Process.Dispose();
            }
        });
        _gate.Nudge();
    }

    private DeviceModelAttachment? Find(string target)
    {
        DeviceModelAttachment[] live = All.Where(a => a.State is AttachmentState.Active or AttachmentState.Failed).ToArray();
        if (uint.TryParse(target, out uint id)) return live.FirstOrDefault(a => a.Id == id);
        DeviceModelAttachment[] byName = live.Where(a => a.Name == target).ToArray();
        return byName.Length == 1 ? byName[0] : null;
    }

    public async Task<RequestResult> DetachAsync(string target)
    {
        if (Find(target) is not { } att) return new RequestResult(false, 0, $"no single attached device model '{target}'");
        using (await _gate.PauseAsync())
        {
            att.Port.DrainPending();
            Retire(att, "detached on request");
        }
        return new RequestResult(true, att.Id, $"device model {att.Id} '{att.Name}' detached");
    }

    /// <summary>
    /// Starts a device model and waits until it is routed. With <paramref name="replace"/>: the VCPU
    /// is parked, the old one's pending writes drained and its devices saved, it is detached, and the
    /// new one attaches with the saved state before the guest goes on.
    /// </summary>
    public async Task<RequestResult> AttachAsync(AttachRequest request)
    {
        DeviceModelCommand command;
        try { command = DeviceModelCommand.Parse(request.Command); }
        catch (ArgumentException e) { return new RequestResult(false, 0, e.Message); }
        IDisposable? hold = null;
        try
        {
            if (request.Replace.Length > 0)
            {
                if (Find(request.Replace) is not { } old) return new RequestResult(false, 0, $"no single attached device model '{request.Replace}' to replace");
                hold = await _gate.PauseAsync();
                List<DeviceState> saved = new();
                if (old.State == AttachmentState.Active)
                {
                    old.Port.DrainPending();
                    try { saved = await old.SaveStateAsync(SaveTimeout); }
                    catch (Exception e) when (e is IOException or TimeoutException or ProtocolException or ObjectDisposedException)
                    {
                        return new RequestResult(false, 0, $"device model {old.Id} '{old.Name}' did not save its state: {e.Message}; nothing changed");
                    }
                }
                // A failed model cannot save: its crash snapshot stands in for the state it would have saved.
                bool crashed = old.State == AttachmentState.Failed;
                if (crashed) KeepCrashSnapshot(old);
                Retire(old, $"swapped for '{command}'");
                if (!crashed)
                    lock (_all)
                    {
                        _stash = saved;
                        _stashIsCrash = false;
                    }
                Log($"kept {saved.Count} device state blob(s) of '{old.Name}': {string.Join(", ", saved.Select(s => $"{s.Device} ({s.Blob.Length} bytes)"))}");
            }
            LaunchedDeviceModel launched;
            try { launched = Start(command); }
            catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception)
            {
                return new RequestResult(false, 0, e.Message);
            }
            try
            {
                DeviceModelAttachment att = await WaitAttachedAsync(launched, Limits.AttachTimeout);
                return new RequestResult(true, att.Id, $"device model {att.Id} '{att.Name}' (pid {att.Pid}) attached{(att.Restore.Count > 0 ? $" with {att.Restore.Count} device state blob(s)" : "")}");
            }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                launched.Process.WaitOrKill(TimeSpan.Zero);
                return new RequestResult(false, 0, e.Message);
            }
        }
        finally
        {
            hold?.Dispose();
        }
    }

    // ---- processes ----

    /// <summary>Starts a device model with this VM's socket and secret (in its environment).</summary>
    public LaunchedDeviceModel Start(DeviceModelCommand command)
    {
        IEnumerable<string> args = command.IsBundledPc && !command.Arguments.Contains("--serial") ? [.. command.Arguments, "--serial", _o.Serial] : command.Arguments;
        if (command.IsBundledPc) args = [.. args, .. _o.DeviceModelArgs];
        // The keyboard goes to the model that owns the console (the bundled PC model on stdio); a
        // restarted or swapped-in one takes it over.
        bool relay = command.IsBundledPc && GuestConsole is { RelaysInput: true };
        var process = DeviceModelProcess.Start(command.Program, args, _dir.SocketFile, _secret, relay);
        if (relay) GuestConsole!.ConnectInput(process, () => ConsoleQuit?.Invoke());
        var launched = new LaunchedDeviceModel(command, process);
        lock (_launched) _launched.Add(launched);
        return launched;
    }

    /// <summary>Waits until the device model started as <paramref name="launched"/> is routed; fails if it exits or takes too long.</summary>
    public async Task<DeviceModelAttachment> WaitAttachedAsync(LaunchedDeviceModel launched, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            DeviceModelAttachment? att = All.FirstOrDefault(a => a.Launch == launched && a.State != AttachmentState.Detached);
            if (att is { State: AttachmentState.Active or AttachmentState.Failed }) return att;
            if (launched.Process.HasExited)
                throw new IOException($"the device model '{launched.Command}' {launched.Process.ExitDescription} before it attached");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the device model '{launched.Command}' did not attach within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until <paramref name="count"/> device models nobody launched (started by hand) are routed.</summary>
    public async Task WaitExternalAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (All.Count(a => a.Launch is null && a.State == AttachmentState.Active) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no device model attached within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    // ---- batched writes (VCPU thread) ----

    /// <summary>Hands every routed device model its pending batched writes (halt, VM end).</summary>
    public void Flush(FlushReason reason)
    {
        foreach (DeviceModelAttachment a in _routed) a.Port.Flush(reason);
    }

    /// <summary>The latency bound of batched writes, checked between slices.</summary>
    public void FlushIfDue()
    {
        foreach (DeviceModelAttachment a in _routed) a.Port.FlushIfDue();
    }

    // ---- the halted VCPU ----

    /// <summary>VCPU thread: picks up IRQ lines of every routed device model.</summary>
    public void PollIrqs()
    {
        foreach (DeviceModelAttachment a in _routed) a.Irq.Poll();
    }

    /// <summary>
    /// VCPU thread, guest halted: sleeps until an IRQ word changes or the timeout passes. The futex
    /// waits on one word: the first device model's. With several, the sleep is cut to 1 ms so the
    /// others' lines are seen promptly.
    /// </summary>
    public void WaitForIrq(long timeoutMicros)
    {
        DeviceModelAttachment[] routed = _routed;
        if (routed.Length == 0)
        {
            _haltWake.Wait(TimeSpan.FromMicroseconds(timeoutMicros));
            _haltWake.Reset();
            return;
        }
        routed[0].Irq.WaitForChange(routed.Length > 1 ? Math.Min(timeoutMicros, 1000) : timeoutMicros);
    }

    /// <summary>Gets a halted VCPU out of its sleep (any thread).</summary>
    public void Kick()
    {
        // Under the lock: an abandoned handshake's region is unmapped under it too (Abandon).
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.State != AttachmentState.Detached) a.Irq.Kick();
        _haltWake.Set();
    }

    // ---- status and the end ----

    public VmStatus Status(ulong instructions) => new(Environment.ProcessId, _gate.State, _gate.StallReason ?? "", instructions,
        (ulong)_router.UnclaimedAccesses,
        All.Select(a => new AttachmentInfo(a.Id, a.Name, a.Pid, a.State, a.State == AttachmentState.Failed ? a.Describe()
            : a.State == AttachmentState.Detached ? a.Failure ?? "" : string.Join(", ", _router.Claims.Where(c => c.DeviceModel == a).Select(c => $"{c.Device} {c.Range}")))).ToList());

    /// <summary>The VM has ended: tell every device model, wait for the ones we started, unmap.</summary>
    public async Task ShutdownAsync(int status, string reason)
    {
        _shutDown = true;
        foreach (DeviceModelAttachment a in All)
        {
            a.FailPendingSave("the VM ended");
            if (a.State == AttachmentState.Detached || a.ConnectionClosed) continue;
            try { await a.Connection.SendAsync(new Shutdown(status, reason).ToFrame()).WaitAsync(TimeSpan.FromSeconds(2)); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or TimeoutException) { }
        }
        LaunchedDeviceModel[] launched;
        lock (_launched) launched = _launched.ToArray();
        foreach (LaunchedDeviceModel l in launched) l.Process.WaitOrKill(TimeSpan.FromSeconds(3));
    }

    public void DisposeRegions()
    {
        foreach (DeviceModelAttachment a in All) a.ReleaseRegion();
        foreach (LaunchedDeviceModel l in _launched) l.Process.Dispose();
        _haltWake.Dispose();
    }
}
