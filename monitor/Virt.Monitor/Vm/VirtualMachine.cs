using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Monitor.Attachment;
using Virt.Monitor.Cli;
using Virt.Monitor.Control;
using Virt.Monitor.Debug;
using Virt.Monitor.Firmware;
using Virt.Monitor.Launch;
using Virt.Monitor.Logging;
using Virt.Monitor.Routing;
using Virt.Monitor.Snapshot;
using Virt.Monitor.Stats;
using Virt.Monitor.Terminal;
using Virt.Monitor.Transport;
using Virt.Monitor.Vcpu;
using Virt.Pc.Boot;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Vm;

/// <summary>
/// One run of a guest: the VM directory (RAM file, control socket, secret, a comm region per
/// device model), the CPU and the in-monitor platform devices (PIC pair, PIT, port 0x61), the
/// device models (any number, attached and detached while the guest runs), the VCPU loop with
/// its pause gate, and the teardown that leaves nothing behind.
/// </summary>
public sealed class VirtualMachine
{
    private readonly RunOptions _o;
    private readonly GuestImages _images;
    private readonly ExitStatistics _stats = new();
    private readonly Stopwatch _wall = new();
    private volatile VmEnd? _end;
    private Cpu.Cpu? _cpu;
    private VcpuGate? _gate;
    private AttachmentManager? _manager;
    private ExitRouter? _router;
    private PcPlatform? _platform;
    private readonly GuestConsole _console;
    // The VCPU loop's checkpoint callback, made once: a lambda there would allocate every slice.
    private readonly Func<bool> _ending;
    // --stats, opened before the run (see RunAsync).
    private FileStream? _statsFile;
    private bool _statsCreated;
    private DeviceCounterSource? _deviceCounters;
    // --stats: the run over time (Stats/Timeline), sampled from the guest's start to its end.
    private Timeline? _timeline;
    // -d (null when off) and the GDB stub's side of the VCPU (null without -s/--gdb).
    private GuestLog? _log;
    private GuestDebugger? _debugger;
    // --restore: the snapshot this run resumes (checked by RunCommand before anything was created).
    private readonly SnapshotFile? _snapshot;
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    // Completes when the VM is asked to end (a VM waiting for a restore stops waiting).
    private readonly TaskCompletionSource _endRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private VirtualMachine(RunOptions o, GuestImages images, SnapshotFile? snapshot)
    {
        // A restored machine is built as it was saved: COM1 runs in the monitor again when the monitor saved its state.
        if (snapshot is not null)
            o = o with
            {
                Placements = snapshot.Manifest.Platform.Devices.Any(d => d.Device == Pc.Board.PcBoard.Com1.Name)
                    ? new Dictionary<string, Placement> { [Pc.Board.PcBoard.Com1.Name] = Placement.Monitor }
                    : new Dictionary<string, Placement>(),
            };
        _o = o;
        _images = images;
        _snapshot = snapshot;
        _console = new GuestConsole(o);
        _ending = () => _end is not null;
    }

    public static async Task<int> RunAsync(RunOptions o, GuestImages images, SnapshotFile? snapshot = null)
    {
        var vm = new VirtualMachine(o, images, snapshot);
        if (o.StatsFile is { } path)
        {
            // Opened before the guest runs: an unwritable path is a usage error now, not an exception after the run (its figures lost).
            try
            {
                vm._statsCreated = !File.Exists(path);
                // Emptied now (as the report would): a failed run must not leave an earlier run's figures looking like its own.
                vm._statsFile = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Console.Error.WriteLine($"virt: --stats {path}: {e.Message}");
                return ExitStatus.BadUsage;
            }
        }
        if (o.LogItems != GuestLogItems.None)
        {
            try
            {
                vm._log = GuestLog.Open(o.LogItems, o.LogFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Console.Error.WriteLine($"virt: -D {o.LogFile}: {e.Message}");
                if (vm._statsFile is { } f) await f.DisposeAsync();
                return ExitStatus.BadUsage;
            }
        }
        try
        {
            return await vm.RunCoreAsync();
        }
        finally
        {
            vm._log?.Dispose();
            if (vm._statsFile is { } f)
            {
                bool written = f.Length > 0;
                await f.DisposeAsync();
                // A run that never reached its report leaves no empty stats file it made itself.
                if (!written && vm._statsCreated) try { File.Delete(o.StatsFile!); } catch (IOException) { }
            }
        }
    }

    private void Log(string message)
    {
        if (!_o.Quiet) Console.Error.WriteLine($"virt: {message}");
    }

    /// <summary>Ends the VM from any thread (first reason wins) and gets the VCPU out of Run or HLT.</summary>
    private void RequestEnd(VmEnd end)
    {
        if (_end is null) _end = end;
        _endRequested.TrySetResult();
        _cpu?.RequestStop();
        _manager?.Roster.Kick();
        _gate?.Nudge();
    }

    private async Task<int> RunCoreAsync()
    {
        VmDirectory dir;
        try
        {
            dir = VmDirectory.Create();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unusable runtime directory (another user's, too open, read-only) is the user's setup to fix: a message and status 2.
            Console.Error.WriteLine($"virt: {e.Message}");
            _end = new VmEnd(ExitStatus.BadUsage, e.Message, "runtime-dir");
            return ExitStatus.BadUsage;
        }
        ControlServer? server = null;
        GdbServer? gdb = null;
        AttachmentManager? manager = null;
        GuestRam? ram = null;
        PhysicalMemory? memory = null;
        MonitorSerialPort? com1 = null;
        long instructions = 0;
        GuestFirmware? firmware = null;
        IncomingRestore? incoming = null;
        using var console = _console;
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; RequestEnd(new VmEnd(ExitStatus.Interrupted, "interrupted (SIGINT)", "interrupted")); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; RequestEnd(new VmEnd(ExitStatus.Interrupted, "terminated (SIGTERM)", "interrupted")); });
        try
        {
            // A sealed memfd: a device model that truncates its "ram" cannot pull pages from under the monitor (issue 13).
            ram = new GuestRam(_o.MemoryBytes, SealedFile.Create(dir.RamFile, _o.MemoryBytes), dir.RamFile);
            memory = new PhysicalMemory(ram);
            // A restore loads RAM on another core while this thread builds the machine (both are most of a restore's time).
            Task<long>? ramLoad = _snapshot is { } saved ? Task.Run(() => LoadRam(saved, ram)) : null;
            byte[] secret = RandomNumberGenerator.GetBytes(Protocol.SecretSize);
            File.WriteAllText(dir.SecretFile, Convert.ToHexString(secret), System.Text.Encoding.ASCII);
            File.SetUnixFileMode(dir.SecretFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            // Platform devices in the monitor, as KVM keeps the PIC and PIT in the kernel (Vm/PcPlatform).
            var router = new ExitRouter(_stats) { RamSize = (ulong)_o.MemoryBytes, Log = _log, Memory = memory };
            _router = router;
            // A restored machine is built as it was saved, whatever this run's options say.
            bool instructionTime = _snapshot is { } snap
                ? snap.Manifest.Machine.Clock == "instructions"
                : _o.Clock == "instructions" || (_o.Clock == "auto" && _images.Format == KernelFormat.Linux);
            // --place com1=monitor: COM1 served at the exit, its console here (Vm/MonitorSerialPort).
            if (_o.PlacementOf(Pc.Board.PcBoard.Com1.Name) == Placement.Monitor)
            {
                try { com1 = new MonitorSerialPort(_o.Serial); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    Console.Error.WriteLine($"virt: --serial {_o.Serial}: {e.Message}");
                    _end = new VmEnd(ExitStatus.BadUsage, e.Message, "serial");
                    return ExitStatus.BadUsage;
                }
                com1.InputArrived = () => _manager?.Roster.Kick();
            }
            var platform = new PcPlatform(memory, router, apic: _snapshot?.Manifest.Machine.Apic ?? true, instructionTime, com1);
            _platform = platform;
            var cpu = new Cpu.Cpu(memory, console.Wrap(router, () => _cpu?.InstructionsRetired ?? 0)) { Engine = _o.CpuEngine, Paravirt = _o.Paravirt };
            platform.Connect(cpu);
            _cpu = cpu;
            if (_log is { } log && (log.Items & (GuestLogItems.Int | GuestLogItems.GuestErrors)) != 0) cpu.EventLog = new CpuEventLogger(cpu, log);
            if (_snapshot is not null)
            {
                if (await TryRestoreAsync(ramLoad!, cpu, platform, memory) is { } bad)
                {
                    // A snapshot that does not restore is the user's input: a message and status 2, and nothing was started.
                    Console.Error.WriteLine($"virt: {bad}");
                    _end = new VmEnd(ExitStatus.BadUsage, bad, "bad-snapshot");
                    return ExitStatus.BadUsage;
                }
            }
            else if (!_o.Incoming && TryLoadGuest(cpu, platform) is { } refused)
            {
                // A bad image is the user's input, not a monitor bug: a message and status 2, as for the header checks.
                Console.Error.WriteLine($"virt: {refused}");
                _end = new VmEnd(ExitStatus.BadUsage, refused, "bad-image");
                return ExitStatus.BadUsage;
            }

            // The ISA lines: the device models' and, with --place com1=firmware, the guest firmware's.
            var irqLines = new IrqLineMux(platform.SetIrq);
            if (_o.Com1InFirmware)
            {
                var (fw, error) = GuestFirmware.Load(cpu, _o.Serial, irqLines, message => Console.Error.WriteLine($"virt: {message}"), console.GuestPrinted);
                if (fw is null)
                {
                    Console.Error.WriteLine($"virt: {error}");
                    _end = new VmEnd(ExitStatus.BadUsage, error!, "bad-firmware");
                    return ExitStatus.BadUsage;
                }
                firmware = fw;
            }

            if (_o.Gdb is { } endpoint)
            {
                _debugger = new GuestDebugger(cpu, _o.WaitForDebugger, () => { cpu.RequestStop(); _manager?.Roster.Kick(); });
                try
                {
                    gdb = GdbServer.Listen(endpoint, _debugger,
                        () => RequestEnd(new VmEnd(ExitStatus.Interrupted, "killed by the debugger", "debugger-kill")));
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    // A port in use is the user's to change, before anything runs.
                    Console.Error.WriteLine($"virt: --gdb {endpoint}: {e.Message}");
                    _end = new VmEnd(ExitStatus.BadUsage, e.Message, "gdb-listen");
                    return ExitStatus.BadUsage;
                }
                gdb.Start();
                // Always said when it matters: a port chosen by the system (tcp::0) or a guest that waits (-S).
                if (!_o.Quiet || endpoint.Port == 0 || _o.WaitForDebugger)
                    Console.Error.WriteLine($"virt: GDB stub listening on 127.0.0.1:{gdb.Port}"
                        + (_o.WaitForDebugger ? "; the guest waits for the debugger (-S): target remote 127.0.0.1:" + gdb.Port : ""));
            }

            // Device models: any number, attached and detached while the guest runs (Attachment/AttachmentManager).
            _gate = new VcpuGate(() => { cpu.RequestStop(); _manager?.Roster.Kick(); });
            // The keyboard goes to COM1 wherever it runs: here, virt reads it itself.
            if (com1 is not null && console.RelaysInputToMonitor) console.ConnectInput(com1.Input, () => RequestEnd(new VmEnd(ExitStatus.Interrupted, "quit from the console (Ctrl-A X)", "quit")));
            manager = new AttachmentManager(dir, secret, router, _gate, _stats, _o, new CpuStateAccess(cpu), irqLines, _ending)
            {
                PlatformEventRaised = (e, who) => OnPlatformEvent(e, who, memory),
                RamWritten = (address, length) => DropDecodedCode(memory, address, length),
                GuestConsole = console,
                ConsoleQuit = () => RequestEnd(new VmEnd(ExitStatus.Interrupted, "quit from the console (Ctrl-A X)", "quit")),
            };
            _manager = manager;
            _deviceCounters = new DeviceCounterSource(platform.Devices, manager);
            var taker = new SnapshotTaker(cpu, platform, memory, ram, manager, _gate, router, _stats,
                why => RequestEnd(new VmEnd(ExitStatus.SavedAndStopped, why, "saved")));
            // --incoming: no guest until `virt restore` loads a snapshot (Snapshot/IncomingRestore); any other VM runs one already.
            if (_o.Incoming) incoming = new IncomingRestore(cpu, platform, memory, ram, manager, taker, dir.Path, Log);
            server = new ControlServer(dir.SocketFile, manager, () => (ulong)cpu.InstructionsRetired)
            {
                LiveStats = new LiveStats(_stats, _wall, () => cpu.InstructionsRetired, manager, router, _deviceCounters),
                Save = taker.SaveAsync,
                Restore = incoming is not null ? incoming.RestoreAsync : _ => Task.FromResult(IncomingRestore.RefuseRunning(Path.GetFileName(dir.Path))),
            };
            server.Start();
            // A restore with the saved device models runs the guest while they start (their .NET start-up is most of
            // a restore): an exit to one of their saved ranges waits until that model is routed. A swap (--dm) waits
            // for its models first, so that one which cannot take the saved state is refused before any guest code runs.
            bool early = _snapshot is not null && _o.DeviceModels.Count == 0;
            if (early) AwaitSavedDeviceModels(router, _gate);
            Task<string?> attached = AttachAtLaunchAsync(manager, dir); // the processes are started before its first await
            if (!early && await EndLaunchAsync(attached, router) is { } why)
            {
                RefuseLaunch(why);
                return await FinishAsync(instructions, manager, router);
            }

            if (incoming is not null)
            {
                await incoming.PrepareAsync();
                Console.Error.WriteLine($"virt: waiting for a snapshot: virt restore {Environment.ProcessId} FILE (VM directory {dir.Path})");
                if (await Task.WhenAny(incoming.Restored, _endRequested.Task) != incoming.Restored)
                {
                    incoming.Abandon();
                    return await FinishAsync(instructions, manager, router);
                }
            }

            if (_statsFile is not null) _timeline = new Timeline(_stats, () => cpu.InstructionsRetired, TimeSpan.FromMilliseconds(_o.StatsIntervalMillis));
            _wall.Start();
            _timeline?.Start();
            var loop = new VcpuLoop(cpu, platform, manager.Roster, router, _gate, _stats, manager.Roster.StallReason, _ending, RequestEnd, _debugger, _log);
            var vcpu = new Thread(loop.Run, 16 << 20) { Name = "vcpu0" };
            vcpu.Start();
            incoming?.GuestRunning();
            if (_snapshot is not null) LogRestored(early ? "its device models still starting" : "its device models attached");
            if (early && await EndLaunchAsync(attached, router) is { } late)
            {
                // The guest ran meanwhile, but every exit to the models' devices waited: nothing it did reached them.
                RefuseLaunch(late);
            }
            else if (early) Log($"device models ready {_sinceStart.Elapsed.TotalMilliseconds:F0} ms after virt started");
            await Task.Run(vcpu.Join);
            if (_end is { } ended) _debugger?.VmEnded(ended.Status); // gdb hears the exit status (W) before the report
            _wall.Stop();
            _timeline?.Stop(); // the last sample after the VCPU's last exit: the intervals add up to the totals
            instructions = cpu.InstructionsRetired;
            return await FinishAsync(instructions, manager, router);
        }
        finally
        {
            incoming?.Abandon();
            console.Dispose();
            _timeline?.Dispose();
            VmEnd end = _end ?? new VmEnd(ExitStatus.DeviceModelFailed, "internal error", "internal");
            _gate?.End();
            _debugger?.VmEnded(end.Status);
            if (gdb is not null) await gdb.DisposeAsync();
            if (manager is not null) await manager.ShutdownAsync(end.Status, end.Reason);
            com1?.Dispose(); // its last output line, after the VCPU has stopped
            if (server is not null) await server.DisposeAsync();
            manager?.DisposeRegions();
            firmware?.Dispose();
            memory?.Dispose();
            ram?.Dispose();
            if (!dir.Remove()) Console.Error.WriteLine($"virt: could not remove {dir.Path}");
        }
    }

    private const string RestoreRefused = "restore refused: ";

    /// <summary>The launch's device models are routed (null) or why they are not; either way no range waits for them any more.</summary>
    private async Task<string?> EndLaunchAsync(Task<string?> attached, ExitRouter router)
    {
        string? why = await attached;
        using (await _gate!.PauseAsync())
        {
            router.StopAwaiting();
            _manager!.Roster.Publish(router);
        }
        return why;
    }

    /// <summary>The device models the run was started with did not all attach: the run ends (a refused restore is the user's input, status 2).</summary>
    private void RefuseLaunch(string why)
    {
        VmEnd end = _snapshot is not null && why.StartsWith(RestoreRefused, StringComparison.Ordinal)
            ? new VmEnd(ExitStatus.BadUsage, why, "bad-snapshot")
            : new VmEnd(ExitStatus.DeviceModelFailed, why, "device-model-attach");
        if (end.Status == ExitStatus.BadUsage) Console.Error.WriteLine($"virt: {why}");
        RequestEnd(end);
    }

    /// <summary>
    /// Until the saved device models are routed again, an exit to a range one of them had claimed parks the
    /// VCPU on the gate (where their attach routes them) instead of reading as unclaimed.
    /// </summary>
    private void AwaitSavedDeviceModels(ExitRouter router, VcpuGate gate)
    {
        router.AwaitDeviceModel(_snapshot!.Manifest.DeviceModels.SelectMany(m => m.Claims.Select(c =>
            (new BusRange(c.Space == "mmio" ? AddressSpace.Mmio : AddressSpace.Port, c.Start, c.Length), c.Device))));
        _manager!.Roster.Publish(router); // the VCPU has not started: routed at once
        router.WaitForDeviceModel = (reason, address) =>
        {
            gate.Stall($"waiting for the restored device models to attach ({(reason == ExitReason.PortIo ? "port" : "address")} 0x{address:X})",
                () => router.ClaimAt(reason, address) is not { Awaited: true }, _ending);
            return !_ending();
        };
    }

    private void LogRestored(string models)
    {
        double sinceProcess = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
        Log($"restored {_snapshot!.Path}: guest running {_sinceStart.Elapsed.TotalMilliseconds:F0} ms after virt started ({_ramLoadTime.TotalMilliseconds:F0} ms "
            + $"of it checking and loading the snapshot, {_ramCopied >> 20} MiB of RAM copied), {sinceProcess:F0} ms after its process started; {models}");
    }
    private TimeSpan _ramLoadTime;
    private long _ramCopied;

    private long LoadRam(SnapshotFile snapshot, GuestRam ram)
    {
        var sw = Stopwatch.StartNew();
        // Copied into the sealed memfd, not mapped copy-on-write: the device models share guest RAM with the
        // monitor (string I/O assist, DMA), and a private mapping's copies would be invisible to them (docs/snapshots.md).
        long copied = snapshot.LoadRam(ram);
        _ramLoadTime = sw.Elapsed;
        return copied;
    }

    /// <summary>RAM (loading since the machine was built), clock, CPU and platform devices from the snapshot; returns why it cannot be restored, or null.</summary>
    private async Task<string?> TryRestoreAsync(Task<long> ramLoad, Cpu.Cpu cpu, PcPlatform platform, PhysicalMemory memory)
    {
        try
        {
            _ramCopied = await ramLoad;
            SnapshotRestorer.Restore(_snapshot!.Manifest, cpu, platform, memory);
            return null;
        }
        catch (SnapshotException e)
        {
            return e.Message;
        }
        catch (IOException e)
        {
            return $"snapshot {_snapshot!.Path}: {e.Message.TrimEnd('.')}; nothing was restored";
        }
    }

    /// <summary>The device models to start: --dm's, or for a restore the saved ones (each with its saved state).</summary>
    private List<(string Spec, IReadOnlyList<DeviceState>? Restore, DeviceModelImage? Saved)> LaunchPlan()
    {
        if (_snapshot is not { } snap)
            return (_o.DeviceModels.Count == 0 ? ["virt-dm"] : _o.DeviceModels).Select(s => (s, (IReadOnlyList<DeviceState>?)null, (DeviceModelImage?)null)).ToList();
        List<DeviceModelImage> saved = snap.Manifest.DeviceModels;
        IReadOnlyList<string> specs = _o.DeviceModels.Count > 0 ? _o.DeviceModels : saved.Select(m => m.Command).ToList();
        if (specs.Count != saved.Count)
            throw new ArgumentException($"{RestoreRefused}the snapshot holds {saved.Count} device model(s) ({string.Join(", ", saved.Select(m => m.Name))}), {specs.Count} --dm given");
        var plan = new List<(string, IReadOnlyList<DeviceState>?, DeviceModelImage?)>();
        for (int i = 0; i < saved.Count; i++)
        {
            if (specs[i] is "" or "external" or "none")
                throw new ArgumentException($"{RestoreRefused}saved device model {i + 1} '{saved[i].Name}' needs a --dm command to start it with (it was started by hand)");
            plan.Add((specs[i], saved[i].States.Select(s => new DeviceState(s.Device, s.Blob)).ToList(), saved[i]));
        }
        return plan;
    }

    /// <summary>
    /// A restored model must be able to take what its predecessor saved: a device of each saved state's name among its claims.
    /// Otherwise the restore is refused before the guest runs (the model would silently start that device fresh).
    /// </summary>
    private string? CheckTakesState(AttachmentManager manager, DeviceModelAttachment att, DeviceModelImage saved)
    {
        IReadOnlyList<string> claimed = manager.ClaimedDevices(att);
        string[] missing = saved.States.Select(s => s.Device).Where(d => !claimed.Contains(d)).ToArray();
        return missing.Length == 0 ? null
            : $"{RestoreRefused}device model '{att.Name}' (pid {att.Pid}), offered for the saved '{saved.Name}', has no device {string.Join(", ", missing.Select(d => $"'{d}'"))} "
              + $"to take its saved state (it claims {(claimed.Count == 0 ? "nothing" : string.Join(", ", claimed))}); "
              + (_o.DeviceModels.Count == 0 ? "the guest was stopped before it reached any of the model's devices" : "the guest was not started");
    }

    /// <summary>Starts the --dm device models and waits until all are routed; returns why not, or null.</summary>
    private async Task<string?> AttachAtLaunchAsync(AttachmentManager manager, VmDirectory dir)
    {
        var launched = new List<(LaunchedDeviceModel Launch, DeviceModelImage? Saved)>();
        int external = 0;
        try
        {
            foreach (var (spec, restore, saved) in LaunchPlan())
            {
                if (spec == "none") continue;
                if (spec == "external")
                {
                    external++;
                    Console.Error.WriteLine($"virt: waiting for a device model: socket {dir.SocketFile}, secret in {dir.SecretFile}");
                    continue;
                }
                var l = manager.Start(DeviceModelCommand.Parse(spec), restore);
                launched.Add((l, saved));
                Log($"device model pid {l.Process.Pid}, VM directory {dir.Path}");
            }
            foreach (var (l, saved) in launched)
            {
                DeviceModelAttachment att = await manager.WaitAttachedAsync(l, Limits.AttachTimeout);
                if (saved is not null && CheckTakesState(manager, att, saved) is { } refused) return refused;
            }
            if (external > 0) await manager.WaitExternalAsync(external, Limits.AttachTimeout);
            manager.EndLaunch();
            return null;
        }
        catch (Exception e) when (e is IOException or TimeoutException or ArgumentException or System.ComponentModel.Win32Exception)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Runs the loaders; returns why the image cannot boot, or null. The header checks in
    /// <see cref="GuestImages"/> cannot see everything (where the segments land against this RAM size,
    /// room for the modules and the information area), so whatever a loader refuses is reported
    /// here instead of escaping as an unhandled exception with a stack trace.
    /// </summary>
    private string? TryLoadGuest(Cpu.Cpu cpu, PcPlatform platform)
    {
        try
        {
            LoadGuest(cpu, platform);
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentException or LinuxImageException
                                      or IndexOutOfRangeException or OverflowException)
        {
            // The last two only come from a malformed image the checks missed; the file still is the cause.
            string what = _images.Kernel is null ? "BIOS" : $"kernel {_images.KernelName}";
            return $"{what}: {e.Message}";
        }
    }

    private void LoadGuest(Cpu.Cpu cpu, PcPlatform platform)
    {
        if (_images.Bios is { } bios)
        {
            RomLoader.LoadBios(cpu, bios);
        }
        else
        {
            // No firmware: the monitor leaves what a BIOS would, then the loader runs over it.
            platform.PrepareFirmwareState();
        }
        if (_images.Kernel is not { } kernel) return;
        if (_images.Format == KernelFormat.Linux)
        {
            var layout = LinuxLoader.Load(cpu, kernel, _images.Initrd, _o.Append, (uint)_o.MemoryBytes);
            Log($"Linux boot protocol: kernel at 0x{layout.KernelAddress:X} ({layout.KernelSize} bytes), initrd at 0x{layout.InitrdAddress:X} ({layout.InitrdSize} bytes), " +
                $"{(platform.Clock.IsVirtual ? $"guest time {platform.Clock.NanosecondsPerInstruction} ns per instruction" : "guest time from the host clock")}");
        }
        else
        {
            MultibootLoader.Load(cpu, kernel, _images.KernelName + (_o.Append.Length > 0 ? " " + _o.Append : ""), _images.Modules);
        }
    }

    /// <summary>A device model's platform event (VCPU thread, right after the exit that caused it).</summary>
    private void OnPlatformEvent(uint arg, string who, PhysicalMemory memory)
    {
        switch ((PlatformEvent)arg)
        {
            case PlatformEvent.Reset:
                _log?.For(GuestLogItems.CpuReset)?.Write(GuestLogItems.CpuReset, $"the guest reset the machine through {who} (the VM ends)");
                RequestEnd(new VmEnd(ExitStatus.Shutdown, $"the guest reset the machine (reboot), through {who}", "reset"));
                break;
            case PlatformEvent.A20On or PlatformEvent.A20Off:
                memory.A20Enabled = (PlatformEvent)arg == PlatformEvent.A20On;
                break;
            default:
                _stats.Refuse(Refusal.PlatformEvent);
                break;
        }
    }

    /// <summary>A device model wrote guest RAM: decoded blocks on those pages are stale.</summary>
    private static void DropDecodedCode(PhysicalMemory memory, uint address, uint length)
    {
        ulong end = Math.Min((ulong)address + length, (ulong)memory.Ram.Size);
        for (ulong a = address & ~0xFFFUL; a < end; a += 0x1000) memory.NotifyWrite((uint)a);
    }

    private async Task<int> FinishAsync(long instructions, AttachmentManager manager, ExitRouter router)
    {
        VmEnd end = _end!;
        _console.Dispose(); // the status line and raw mode end before the report
        _platform?.Com1?.Service(); // COM1 in the monitor: its last output before the report
        if (end.Status is ExitStatus.DeviceModelFailed or ExitStatus.Shutdown || !_o.Quiet)
            Console.Error.WriteLine($"virt: {end.Reason} (exit status {end.Status})");
        DeviceModelAttachment? first = manager.All.FirstOrDefault();
        // The devices' counters cost the device models a round trip of the control socket: only for a report someone reads.
        DeviceCounterTable? devices = _o.Quiet && _statsFile is null ? null : _deviceCounters is null ? null : await _deviceCounters.CollectAsync(Limits.MetricsTimeout);
        var report = new RunReport(end, _stats, _wall.Elapsed, instructions, first is null ? default : first.Counters,
            p => router.ClaimOfPort(p)?.Device ?? "(none)", _cpu?.EngineStats, devices, _timeline, _cpu?.ParavirtStats,
            _cpu?.FirmwareRegion is null ? null : _cpu.FirmwareStats);
        if (!_o.Quiet) report.WriteTable(Console.Error);
        if (_statsFile is { } stats)
        {
            stats.SetLength(0);
            report.WriteJson(stats);
            stats.Flush();
        }
        if (!_o.Quiet && router.UnclaimedAccesses > 0) Console.Error.WriteLine($"unclaimed accesses (read as all ones / dropped): {router.UnclaimedAccesses}");
        return end.Status;
    }
}
