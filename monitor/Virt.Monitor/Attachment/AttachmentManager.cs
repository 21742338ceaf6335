using Virt.Monitor.Cli;
using Virt.Monitor.Control;
using Virt.Monitor.Launch;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Terminal;
using Virt.Monitor.Transport;
using Virt.Monitor.Vcpu;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The device models of one VM: who is attached (the roster), what is routed to them, and the
/// events that move each through its <see cref="AttachmentLifecycle"/>: Hello and Ready (with
/// <see cref="AttachHandshake"/>), detach and swap with state transfer, and what happens when one
/// dies or hangs (<see cref="RestartPolicy"/>). Routing changes only with the VCPU parked
/// (<see cref="VcpuGate"/>). A failed device model leaves the VCPU stalled with its exit held; the
/// next device model to attach retires it, takes its place and gets the exit re-issued.
/// Called from control-socket tasks and, for <see cref="OnPortLost"/>, from the VCPU thread.
/// </summary>
public sealed class AttachmentManager
{
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromSeconds(5);

    private readonly VmDirectory _dir;
    private readonly byte[] _secret;
    private readonly ExitRouter _router;
    private readonly VcpuGate _gate;
    private readonly RunOptions _o;
    private readonly IrqLineMux _mux;
    private readonly Func<bool> _ending;
    private readonly AttachHandshake _handshake;
    private readonly DeviceModelLauncher _launcher;
    private readonly RestartPolicy _restart;
    private readonly DeviceStateStash _stash = new();
    private readonly DeviceModelRoster _roster = new();
    private uint _nextId;

    // Until the device models the VM was started with are attached, every Hello is one of them.
    private volatile bool _launching = true;
    private volatile bool _shutDown;

    public AttachmentManager(VmDirectory dir, byte[] secret, ExitRouter router, VcpuGate gate, ExitStatistics stats, RunOptions o,
        IVcpuStateAccess? state, IrqLineMux mux, Func<bool> ending)
    {
        _dir = dir;
        _secret = secret;
        _router = router;
        _gate = gate;
        _o = o;
        _mux = mux;
        _ending = ending;
        _handshake = new AttachHandshake(dir, o, router, stats, gate, state, mux, ending);
        _launcher = new DeviceModelLauncher(dir, secret, o);
        _restart = new RestartPolicy(_launcher, o.RestartDeviceModel, Log);
    }

    public byte[] Secret => _secret;

    /// <summary>A device model's platform event (reset, A20), raised on the VCPU thread after the exit that caused it.</summary>
    public Action<uint, string>? PlatformEventRaised { get; init; }

    /// <summary>A device model wrote guest RAM (string I/O assist): decoded code there is stale.</summary>
    public Action<uint, uint>? RamWritten { get; init; }

    /// <summary>virt's console: the bundled PC model started with the console on stdio gets the keyboard through it.</summary>
    public GuestConsole? GuestConsole
    {
        get => _launcher.GuestConsole;
        init => _launcher.GuestConsole = value;
    }

    /// <summary>Called when the user quits from the console (Ctrl-A X).</summary>
    public Action? ConsoleQuit
    {
        get => _launcher.ConsoleQuit;
        init => _launcher.ConsoleQuit = value;
    }

    /// <summary>Who is attached, and what the VCPU thread asks of them between slices.</summary>
    public DeviceModelRoster Roster => _roster;

    public DeviceModelAttachment[] All => _roster.All;

    private void Log(string message)
    {
        if (!_o.Quiet) Console.Error.WriteLine($"virt: {message}");
    }

    // ---- Hello to Ready, called by the control server ----

    /// <summary>
    /// Why another device model may not start a handshake now (null: it may). Bounds what a peer
    /// holding the secret can make the monitor allocate: each handshake costs a comm file and a mapping.
    /// </summary>
    public string? AdmissionError()
    {
        var (handshaking, live) = _roster.Count();
        if (handshaking >= Limits.MaxPendingAttaches) return $"{handshaking} device models are already between Hello and Ready (at most {Limits.MaxPendingAttaches})";
        if (live >= Limits.MaxDeviceModels) return $"{live} device models are attached or attaching (at most {Limits.MaxDeviceModels})";
        return null;
    }

    /// <summary>
    /// A device model said Hello with the right secret: give it its own comm region and port. Any
    /// failed device model is retired now and the VCPU held until this one is routed, so the exit
    /// the failed one held is re-issued to it.
    /// </summary>
    public async Task<DeviceModelAttachment> BeginAttachAsync(Hello hello, ControlConnection conn)
    {
        IDisposable? hold = null;
        bool inherits = false;
        if (All.Any(a => a.Phase == AttachmentPhase.Failed))
        {
            hold = await _gate.PauseAsync();
            foreach (DeviceModelAttachment failed in All.Where(a => a.Phase == AttachmentPhase.Failed))
            {
                inherits |= failed.PlatformAuthority;
                KeepCrashSnapshot(failed);
                Retire(failed, $"replaced by '{hello.Name}' (pid {hello.Pid})");
            }
        }
        uint id = Interlocked.Increment(ref _nextId);
        var (launch, lifecycle) = _launcher.AtHello(hello.Pid);
        // Platform events (end, reset, A20) are the machine's owner's: the device models the VM was
        // started with, and whatever replaces one of them; a model attached later serves devices only.
        bool authority = _launching || inherits || launch is { PlatformAuthority: true };
        var hooks = new PortHooks(PlatformEventRaised, RamWritten, OnPortLost);
        // A model started for a restored snapshot gets that model's saved devices; any other, what the stash keeps.
        StashedState restore = launch?.RestoreState is { } saved ? new StashedState(saved, false) : _stash.Take();
        DeviceModelAttachment att = _handshake.Greet(id, hello, conn, lifecycle, launch, restore, hold, hooks, authority);
        _roster.Add(att);
        return att;
    }

    public Welcome WelcomeFor(DeviceModelAttachment att) => _handshake.WelcomeFor(att);

    /// <summary>One Claim between Hello and Ready: why it is refused, or null (entered, routed at Ready).</summary>
    public ClaimRefusal? Claim(DeviceModelAttachment att, Claim c) => _handshake.Claim(att, c);

    /// <summary>Ready: route the device model's claims (VCPU parked for the switch).</summary>
    public async Task CompleteAttachAsync(DeviceModelAttachment att)
    {
        using (await _gate.PauseAsync())
        {
            att.Lifecycle.Require(AttachmentEvent.Ready);
            _roster.Publish(_router);
            att.ReleaseReplacementHold();
        }
        Log($"device model {att.Id} '{att.Name}' (pid {att.Pid}) attached: {ClaimsOf(att)}");
    }

    /// <summary>The control connection of a device model closed (or broke the protocol).</summary>
    public void OnConnectionLost(DeviceModelAttachment att, string why)
    {
        att.MarkConnectionClosed();
        att.FailPendingSave(why);
        switch (att.Phase)
        {
            case AttachmentPhase.Handshaking:
                if (att.Lifecycle.Retire(why).Allowed) Abandon(att);
                break;
            case AttachmentPhase.Attached or AttachmentPhase.Draining:
                MarkFailed(att, why, null);
                break;
        }
    }

    /// <summary>
    /// A handshake that ended before Ready (now retired): nothing was ever routed to it, so everything
    /// it was given goes now (its entry, comm file and mapping; the connection is closed by the control
    /// server), and state blobs meant for it are kept for the next device model. Without this every
    /// abandoned Hello kept a comm file, a mapping and descriptors until the VM ended (issue 13).
    /// </summary>
    private void Abandon(DeviceModelAttachment att)
    {
        _router.RemoveClaimsOf(att);
        att.ReleaseReplacementHold();
        _stash.GiveBack(new StashedState(att.Restore, att.RestoreFromCrash));
        _roster.Forget(att);
        _mux.Remove(att.Id);
        try { File.Delete(Path.Combine(_dir.Path, att.CommFileName)); } catch (IOException) { }
    }

    // ---- failure ----

    /// <summary>
    /// A failed model is being replaced: its last crash snapshot (if it kept one) becomes the state the
    /// replacement restores, so the guest's devices keep the configuration its drivers set up.
    /// </summary>
    private void KeepCrashSnapshot(DeviceModelAttachment failed)
    {
        if (failed.ReadCrashSnapshot() is not { Count: > 0 } snapshot || !_stash.KeepCrashSnapshot(snapshot)) return;
        Log($"kept the crash snapshot of '{failed.Name}': {Describe(snapshot)}");
    }

    private void MarkFailed(DeviceModelAttachment att, string why, InFlightExit? exit)
    {
        if (!att.Lifecycle.Fail(why, exit).Allowed) return;
        if (_ending() || _shutDown) return;
        Console.Error.WriteLine($"virt: device model {att.Id} '{att.Name}' (pid {att.Pid}): {why}{(exit is null ? "" : $"; exit held: {exit}")}; "
            + $"the guest is paused until a device model attaches (virt attach {Environment.ProcessId} --dm ...)");
        _gate.Nudge();
        _restart.OnFailed(att);
    }

    /// <summary>VCPU thread: a device model died or hung inside an exit. Held until it is replaced; returns where the exit goes now.</summary>
    private DeviceModelPort? OnPortLost(DeviceModelPort port, InFlightExit exit)
    {
        DeviceModelAttachment? att = All.FirstOrDefault(a => a.Port == port);
        if (att is null) return null;
        MarkFailed(att, port.Failed ?? "failed", exit);
        _gate.Stall($"device model {att.Id} '{att.Name}' {att.Lifecycle.Failure}; exit held: {exit}", () => att.Phase != AttachmentPhase.Failed, _ending);
        if (_ending()) return null;
        return _router.OwnerOf(exit.Reason, exit.Address)?.Port;
    }

    // ---- detach, swap ----

    /// <summary>
    /// Takes a draining or failed device model out: its claims go, its IRQ lines drop, it is told to
    /// exit. Call with the VCPU parked. Nothing happens when it is not in a phase it can be retired from.
    /// </summary>
    private void Retire(DeviceModelAttachment att, string why)
    {
        AttachmentTransition t = att.Lifecycle.Retire(why);
        if (!t.Allowed) return;
        bool wasFailed = t.From == AttachmentPhase.Failed;
        _router.RemoveClaimsOf(att);
        _mux.Remove(att.Id);
        _roster.Publish(_router);
        Log($"device model {att.Id} '{att.Name}' detached: {why}");
        // Its comm file goes now; its mapping when nothing can be reading it.
        try { File.Delete(Path.Combine(_dir.Path, att.CommFileName)); } catch (IOException) { }
        _roster.ReleaseRegion(att, wasFailed);
        _ = Task.Run(async () =>
        {
            if (!att.ConnectionClosed)
            {
                try { await att.Connection.SendAsync(new Shutdown(0, $"detached: {why}").ToFrame()); }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException) { }
            }
            if (att.Launch is { } l) _launcher.LetGo(l, wasFailed ? TimeSpan.Zero : TimeSpan.FromSeconds(3));
        });
        _gate.Nudge();
    }

    /// <summary>With the VCPU parked: an attached model starts draining and gets its pending batched writes. A failed one has none to get.</summary>
    private static void Drain(DeviceModelAttachment att)
    {
        if (att.Lifecycle.Fire(AttachmentEvent.Drain).Allowed) att.Port.DrainPending();
    }

    private DeviceModelAttachment? Find(string target)
    {
        DeviceModelAttachment[] live = All.Where(a => a.Phase is AttachmentPhase.Attached or AttachmentPhase.Failed).ToArray();
        if (uint.TryParse(target, out uint id)) return live.FirstOrDefault(a => a.Id == id);
        DeviceModelAttachment[] byName = live.Where(a => a.Name == target).ToArray();
        return byName.Length == 1 ? byName[0] : null;
    }

    public async Task<RequestResult> DetachAsync(string target)
    {
        if (Find(target) is not { } att) return new RequestResult(false, 0, $"no single attached device model '{target}'");
        using (await _gate.PauseAsync())
        {
            Drain(att);
            Retire(att, "detached on request");
        }
        return new RequestResult(true, att.Id, $"device model {att.Id} '{att.Name}' detached");
    }

    /// <summary>
    /// Starts a device model and waits until it is routed. With <paramref name="request"/>.Replace: the
    /// VCPU is parked, the old one drained and its devices saved, it is retired, and the new one
    /// attaches with the saved state before the guest goes on.
    /// </summary>
    public async Task<RequestResult> AttachAsync(AttachRequest request)
    {
        DeviceModelCommand command;
        try { command = DeviceModelCommand.Parse(request.Command); }
        catch (ArgumentException e) { return new RequestResult(false, 0, e.Message); }
        IDisposable? hold = null;
        bool authority = false;
        try
        {
            if (request.Replace.Length > 0)
            {
                if (Find(request.Replace) is not { } old) return new RequestResult(false, 0, $"no single attached device model '{request.Replace}' to replace");
                hold = await _gate.PauseAsync();
                if (await SwapOutAsync(old, command) is { } refused) return refused;
                authority = old.PlatformAuthority;
            }
            LaunchedDeviceModel launched;
            try { launched = _launcher.Start(command, authority); }
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
                _launcher.Abandon(launched, e.Message);
                return new RequestResult(false, 0, e.Message);
            }
        }
        finally
        {
            hold?.Dispose();
        }
    }

    /// <summary>
    /// The first half of a swap, VCPU parked: drain <paramref name="old"/>, save its devices (a failed
    /// one's crash snapshot stands in), retire it. Returns the refusal when it could not save (it then
    /// serves on, nothing changed), or null.
    /// </summary>
    private async Task<RequestResult?> SwapOutAsync(DeviceModelAttachment old, DeviceModelCommand replacement)
    {
        Drain(old);
        List<DeviceState> saved = new();
        if (old.Phase == AttachmentPhase.Draining)
        {
            try { saved = await old.SaveStateAsync(SaveTimeout); }
            catch (Exception e) when (e is IOException or TimeoutException or ProtocolException or ObjectDisposedException)
            {
                old.Lifecycle.Fire(AttachmentEvent.Resume); // not allowed if it failed meanwhile: then it stays failed
                return new RequestResult(false, 0, $"device model {old.Id} '{old.Name}' did not save its state: {e.Message}; nothing changed");
            }
        }
        // A failed model cannot save: its crash snapshot stands in for the state it would have saved.
        bool crashed = old.Phase == AttachmentPhase.Failed;
        if (crashed) KeepCrashSnapshot(old);
        Retire(old, $"swapped for '{replacement}'");
        if (!crashed) _stash.KeepSaved(saved);
        Log($"kept {saved.Count} device state blob(s) of '{old.Name}': {Describe(saved)}");
        return null;
    }

    private static string Describe(IEnumerable<DeviceState> blobs) => string.Join(", ", blobs.Select(s => $"{s.Device} ({s.Blob.Length} bytes)"));

    private string ClaimsOf(DeviceModelAttachment att) =>
        string.Join(", ", _router.Claims.Where(c => c.DeviceModel == att).Select(c => $"{c.Device} {c.Range}"));

    // ---- processes ----

    /// <summary>Starts one of the device models the VM is started with (socket and secret in its environment).</summary>
    public LaunchedDeviceModel Start(DeviceModelCommand command, IReadOnlyList<DeviceState>? restore = null) =>
        _launcher.Start(command, platformAuthority: true, restore);

    // ---- snapshots ----

    /// <summary>
    /// For a snapshot, with the VCPU parked: every device model is drained (its pending batched writes
    /// performed), asked for its devices' state and let go on serving. Throws <see cref="Snapshot.SnapshotException"/>
    /// when one is not attached (failed, attaching) or does not save; every model drained is resumed either way.
    /// </summary>
    public async Task<List<Snapshot.DeviceModelImage>> SaveAllAsync()
    {
        DeviceModelAttachment[] live = All.Where(a => a.Phase != AttachmentPhase.Retired).ToArray();
        if (live.FirstOrDefault(a => a.Phase != AttachmentPhase.Attached) is { } odd)
            throw new Snapshot.SnapshotException($"device model {odd.Id} '{odd.Name}' is {odd.Phase.ToString().ToLowerInvariant()}, not attached: nothing was saved");
        var images = new List<Snapshot.DeviceModelImage>();
        var drained = new List<DeviceModelAttachment>();
        try
        {
            foreach (DeviceModelAttachment att in live)
            {
                Drain(att);
                drained.Add(att);
                List<DeviceState> saved;
                try { saved = await att.SaveStateAsync(SaveTimeout); }
                catch (Exception e) when (e is IOException or TimeoutException or ProtocolException or ObjectDisposedException)
                {
                    throw new Snapshot.SnapshotException($"device model {att.Id} '{att.Name}' did not save its state: {e.Message}; nothing was saved");
                }
                images.Add(new Snapshot.DeviceModelImage
                {
                    Name = att.Name,
                    Command = att.Launch?.Command.ToString() ?? "",
                    PlatformAuthority = att.PlatformAuthority,
                    Claims = _router.Claims.Where(c => c.DeviceModel == att).Select(c => new Snapshot.ClaimImage
                    {
                        Device = c.Device,
                        Space = c.Range.Space == Virt.Shared.Routing.AddressSpace.Port ? "ports" : "mmio",
                        Start = c.Range.Start,
                        Length = c.Range.Length,
                    }).ToList(),
                    States = saved.Select(s => new Snapshot.DeviceStateImage { Device = s.Device, Blob = s.Blob }).ToList(),
                });
            }
            return images;
        }
        finally
        {
            // Not allowed for one that failed meanwhile: it stays failed (and the guest waits for a replacement, as after any failure).
            foreach (DeviceModelAttachment att in drained) att.Lifecycle.Fire(AttachmentEvent.Resume);
        }
    }

    /// <summary>The device names each attached model claims (for checking that a restored model can take its saved state).</summary>
    public IReadOnlyList<string> ClaimedDevices(DeviceModelAttachment att) =>
        _router.Claims.Where(c => c.DeviceModel == att).Select(c => c.Device).Distinct().ToList();

    /// <summary>The device models the VM was started with are attached: from now on a new one serves devices only (no platform events).</summary>
    public void EndLaunch() => _launching = false;

    /// <summary>Waits until the device model started as <paramref name="launched"/> is routed; fails if it exits or takes too long.</summary>
    public async Task<DeviceModelAttachment> WaitAttachedAsync(LaunchedDeviceModel launched, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            DeviceModelAttachment? att = All.FirstOrDefault(a => a.Launch == launched && a.Phase != AttachmentPhase.Retired);
            if (att is { Phase: AttachmentPhase.Attached or AttachmentPhase.Draining or AttachmentPhase.Failed }) return att;
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
        while (All.Count(a => a.Launch is null && a.Lifecycle.IsRouted) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no device model attached within {timeout.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    // ---- status and the end ----

    public VmStatus Status(ulong instructions) => new(Environment.ProcessId, _gate.State, _gate.StallReason ?? "", instructions,
        (ulong)_router.UnclaimedAccesses,
        All.Select(a => new AttachmentInfo(a.Id, a.Name, a.Pid, a.Lifecycle.WireState,
            a.Phase is AttachmentPhase.Failed or AttachmentPhase.Retired ? a.Describe() : ClaimsOf(a))).ToList());

    /// <summary>The VM has ended: tell every device model, wait for the ones we started, unmap.</summary>
    public async Task ShutdownAsync(int status, string reason)
    {
        _shutDown = true;
        foreach (DeviceModelAttachment a in All)
        {
            a.FailPendingSave("the VM ended");
            if (a.Phase == AttachmentPhase.Retired || a.ConnectionClosed) continue;
            try { await a.Connection.SendAsync(new Shutdown(status, reason).ToFrame()).WaitAsync(TimeSpan.FromSeconds(2)); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or TimeoutException) { }
        }
        _launcher.WaitAll(TimeSpan.FromSeconds(3));
    }

    public void DisposeRegions()
    {
        _roster.Dispose();
        _launcher.DisposeAll();
    }
}
