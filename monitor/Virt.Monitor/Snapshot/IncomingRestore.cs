using System.Diagnostics;
using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Devices.State;
using Virt.Monitor.Attachment;
using Virt.Monitor.Vm;
using Virt.Shared.Control;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// `virt run --incoming` and `virt restore VM FILE`: a VM built and waiting (RAM memfd, platform, CPU, its device
/// models attached and past Ready, the restore path compiled by a dry restore), which then loads a snapshot on
/// request and runs it, as Firecracker's LoadSnapshot on a started process and QEMU's `-incoming defer` with
/// `migrate_incoming`. A refused restore (the file's checks, a machine that does not fit, RAM's checksum, a
/// device model that cannot take its state) puts back what it changed: the VM goes on waiting as it was.
/// Control-socket tasks call <see cref="RestoreAsync"/>; one restore at a time.
/// </summary>
public sealed class IncomingRestore(Cpu.Cpu cpu, PcPlatform platform, PhysicalMemory memory, GuestRam ram, AttachmentManager manager,
    SnapshotTaker taker, string vmDirectory, Action<string> log)
{
    private const string Refused = "restore refused: ";
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly TaskCompletionSource<bool> _prepared = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _restored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // The machine as built, and each waiting model's devices as they started: what a refused restore puts back.
    private SnapshotManifest? _blank;
    private bool _blankInstructionTime;
    private DeviceModelAttachment[] _models = [];
    private volatile string? _restoredFrom;
    // Why no restore can be taken (the blank machine could not be kept), or null.
    private string? _unready;

    /// <summary>The VM directory's name, as `virt list` shows it.</summary>
    public string VmName => Path.GetFileName(vmDirectory);

    /// <summary>Completes when a snapshot is loaded: the VM starts the VCPU, then calls <see cref="GuestRunning"/>.</summary>
    public Task Restored => _restored.Task;

    /// <summary>The VCPU thread has started (or the VM ends without one): the request is answered.</summary>
    public void GuestRunning() => _running.TrySetResult();

    /// <summary>The VM could not get ready (its device models did not attach) or ends: a pending request is refused.</summary>
    public void Abandon()
    {
        _prepared.TrySetResult(false);
        _running.TrySetResult();
    }

    /// <summary>
    /// With the device models attached and the VCPU not started: keeps the blank machine and the models' fresh device
    /// state, then restores a tiny snapshot of that blank machine (two pages of RAM) through the whole restore path, so
    /// that a real restore runs compiled code: its first run costs tens of milliseconds of JIT otherwise.
    /// </summary>
    public async Task PrepareAsync()
    {
        string file = Path.Combine(vmDirectory, "warmup.snapshot"), ramFile = Path.Combine(vmDirectory, "warmup.ram");
        List<DeviceModelImage> fresh;
        try
        {
            _models = WaitingModels();
            fresh = await manager.SaveAllAsync();
        }
        catch (SnapshotException e)
        {
            // Without the blank machine a refused restore could not be undone: none is taken.
            _unready = $"{Refused}{VmName} could not keep the state of its blank machine ({e.Message}); nothing was restored";
            log(_unready);
            _prepared.TrySetResult(true);
            return;
        }
        _blank = taker.Capture(fresh);
        _blankInstructionTime = platform.Clock.IsVirtual;
        var taken = new List<DeviceModelAttachment>();
        try
        {
            var sw = Stopwatch.StartNew();
            using (var tiny = new GuestRam(2 * 4096, ramFile))
            {
                tiny.AsSpan(0, 4096).Fill(0xF4);
                SnapshotManifest manifest = taker.Capture(fresh);
                manifest.RamSize = tiny.Size;
                SnapshotFile.Write(file, manifest, tiny);
                SnapshotFile.Unload(tiny);
                using SnapshotFile snapshot = SnapshotFile.Open(file, tiny.Size);
                if (Misfit(snapshot.Manifest) is { } why) throw new SnapshotException(why);
                snapshot.LoadRam(tiny);
                if (await RestoreMachineAsync(snapshot.Manifest, taken) is { } failed) throw new SnapshotException(failed);
            }
            log($"restore path warmed up in {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        catch (Exception e) when (e is SnapshotException or IOException or UnauthorizedAccessException or TimeoutException or ProtocolException)
        {
            // Not a reason to stop waiting: the blank machine is put back, and the first restore then compiles as it goes.
            log($"the warm-up restore failed ({e.Message}); a restore still works, slower");
            await PutBackAsync(taken);
        }
        finally
        {
            try { File.Delete(file); File.Delete(ramFile); } catch (IOException) { }
        }
        _prepared.TrySetResult(true);
    }

    /// <summary>The VM is already running a guest: a restore is refused (a VM started without --incoming, or one restored already).</summary>
    public static RequestResult RefuseRunning(string vm) =>
        new(false, 0, $"{Refused}{vm} is already running a guest; virt restore loads a snapshot into a VM started with virt run --incoming and still waiting for one; nothing was restored");

    public async Task<RequestResult> RestoreAsync(RestoreRequest request)
    {
        var sinceRequest = Stopwatch.StartNew();
        if (!Path.IsPathFullyQualified(request.Path)) return new RequestResult(false, 0, $"the snapshot path must be absolute: '{request.Path}'");
        if (_restoredFrom is { } from) return RefuseRunning($"{VmName} (restored from {from})");
        if (!await _prepared.Task) return new RequestResult(false, 0, $"{Refused}{VmName} is ending; nothing was restored");
        if (_unready is { } unready) return new RequestResult(false, 0, unready);
        if (!await _one.WaitAsync(TimeSpan.Zero)) return new RequestResult(false, 0, $"{Refused}another restore into {VmName} is under way");
        try
        {
            if (_restoredFrom is { } already) return RefuseRunning($"{VmName} (restored from {already})");
            string still = $"; {VmName} goes on waiting for a snapshot";
            SnapshotFile snapshot;
            try
            {
                snapshot = SnapshotFile.Open(request.Path, ram.Size,
                    saved => $"this VM waits with -m {ram.Size >> 20}M: restore it into a virt run --incoming -m {saved}M");
            }
            catch (SnapshotException e)
            {
                return new RequestResult(false, 0, e.Message + still);
            }
            using (snapshot)
            {
                if (Misfit(snapshot.Manifest) is { } why) return new RequestResult(false, 0, why + still);
                // RAM on another core while this thread puts back the CPU, the platform and the models' devices (as --restore does).
                var ramTime = new Stopwatch();
                Task<long> load = Task.Run(() =>
                {
                    ramTime.Start();
                    try { return snapshot.LoadRam(ram); }
                    finally { ramTime.Stop(); }
                });
                var machineTime = Stopwatch.StartNew();
                var taken = new List<DeviceModelAttachment>();
                string? failed = await RestoreMachineAsync(snapshot.Manifest, taken);
                machineTime.Stop();
                long copied = 0;
                try { copied = await load; }
                catch (SnapshotException e) { failed ??= e.Message; }
                catch (IOException e) { failed ??= $"snapshot {request.Path}: {e.Message.TrimEnd('.')}; nothing was restored"; }
                if (failed is not null)
                {
                    await PutBackAsync(taken);
                    return new RequestResult(false, 0, failed + still);
                }
                _restoredFrom = request.Path;
                _restored.TrySetResult();
                await _running.Task;
                string what = $"restored {request.Path} into {VmName}: guest running {sinceRequest.Elapsed.TotalMilliseconds:F0} ms after the request "
                    + $"({ramTime.Elapsed.TotalMilliseconds:F0} ms loading RAM, {copied >> 20} MiB copied, while the CPU, the platform and "
                    + $"{_models.Length} device model(s) took their state in {machineTime.Elapsed.TotalMilliseconds:F0} ms)";
                log(what);
                return new RequestResult(true, 0, what);
            }
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>The device models waiting with the VM, in the order they attached (the order a snapshot lists them in).</summary>
    private DeviceModelAttachment[] WaitingModels() => manager.All.Where(a => a.Phase != AttachmentPhase.Retired).OrderBy(a => a.Id).ToArray();

    /// <summary>Why the snapshot's machine does not fit this VM (checked before anything is changed), or null.</summary>
    private string? Misfit(SnapshotManifest m)
    {
        if (m.Machine.Apic != platform.LocalApic is not null)
            return $"{Refused}the snapshot's machine {(m.Machine.Apic ? "has" : "has no")} APICs, this VM {(m.Machine.Apic ? "has none" : "has them")} (virt run --restore builds the saved machine)";
        string com1 = Pc.Board.PcBoard.Com1.Name;
        var saved = m.Platform.Devices.Select(d => d.Device).ToHashSet();
        var here = platform.Devices.OfType<IStatefulDevice>().Select(d => ((IDevice)d).Name).ToHashSet();
        if (saved.Contains(com1) && !here.Contains(com1))
            return $"{Refused}the snapshot ran COM1 in the monitor (--place com1=monitor), this VM in a device model: start virt run --incoming --place com1=monitor for it";
        if (!saved.Contains(com1) && here.Contains(com1))
            return $"{Refused}this VM runs COM1 in the monitor (--place com1=monitor), the snapshot ran it in a device model: start virt run --incoming without --place for it";
        if (!saved.SetEquals(here))
            return $"{Refused}the saved platform has {string.Join(", ", saved.Order())}, this VM's {string.Join(", ", here.Order())}";
        return ModelsMisfit(m.DeviceModels);
    }

    /// <summary>The CPU, the platform and each waiting model's devices from <paramref name="m"/>; the models that took theirs are added to <paramref name="taken"/>. Returns why not, or null.</summary>
    private async Task<string?> RestoreMachineAsync(SnapshotManifest m, List<DeviceModelAttachment> taken)
    {
        try
        {
            platform.UseClock(m.Machine.Clock == "instructions");
            SnapshotRestorer.Restore(m, cpu, platform, memory);
        }
        catch (SnapshotException e)
        {
            return e.Message;
        }
        // Every model at once: each is one round trip of its control socket.
        var answers = await Task.WhenAll(_models.Select(async (att, i) =>
        {
            IReadOnlyList<DeviceState> states = m.DeviceModels[i].States.Select(s => new DeviceState(s.Device, s.Blob)).ToList();
            try { return (att, i, Answer: await att.RestoreStateAsync(states, StateTimeout)); }
            catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                return (att, i, Answer: new StateRestored(false, $"it did not answer: {e.Message}"));
            }
        }));
        taken.AddRange(answers.Where(a => a.Answer.Ok).Select(a => a.att));
        return answers.FirstOrDefault(a => !a.Answer.Ok) is { att: { } bad } refused
            ? $"{Refused}device model '{bad.Name}' (pid {bad.Pid}), waiting for the saved '{m.DeviceModels[refused.i].Name}', refused its state: {refused.Answer.Reason}; nothing was restored"
            : null;
    }

    /// <summary>A refused restore: RAM zero again, the blank CPU and platform, and their fresh devices to the models that had taken saved ones.</summary>
    private async Task PutBackAsync(List<DeviceModelAttachment> taken)
    {
        SnapshotFile.Unload(ram);
        platform.UseClock(_blankInstructionTime);
        SnapshotRestorer.Restore(_blank!, cpu, platform, memory);
        foreach (DeviceModelAttachment att in taken)
        {
            int i = Array.IndexOf(_models, att);
            try { await att.RestoreStateAsync(_blank!.DeviceModels[i].States.Select(s => new DeviceState(s.Device, s.Blob)).ToList(), StateTimeout); }
            catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                log($"device model '{att.Name}' did not take its fresh state back: {e.Message}");
            }
        }
    }

    /// <summary>The waiting device models against the saved ones: one each, in order, each able to take the state of the one it stands in for.</summary>
    private string? ModelsMisfit(List<DeviceModelImage> saved)
    {
        DeviceModelAttachment[] waiting = _models;
        if (waiting.Length != saved.Count)
            return $"{Refused}the snapshot holds {saved.Count} device model(s) ({string.Join(", ", saved.Select(s => s.Name))}), this VM has {waiting.Length} waiting "
                + $"({string.Join(", ", waiting.Select(w => w.Name))}): start virt run --incoming with one --dm for each saved model";
        for (int i = 0; i < waiting.Length; i++)
        {
            DeviceModelAttachment att = waiting[i];
            if (att.Phase != AttachmentPhase.Attached)
                return $"{Refused}device model '{att.Name}' (pid {att.Pid}) is {att.Phase.ToString().ToLowerInvariant()}, not attached";
            if (!att.TakesLateState && saved[i].States.Count > 0)
                return $"{Refused}device model '{att.Name}' (pid {att.Pid}) cannot take device state once attached (it does not offer the LateRestore feature of control protocol 1.6)";
        }
        return null;
    }
}
