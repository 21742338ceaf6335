using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.State;
using Virt.Devices.Platform;
using Virt.Cpu.Boot;
using Virt.Monitor.Cli;
using Virt.Monitor.Control;
using Virt.Monitor.Exits;
using Virt.Monitor.Launch;
using Virt.Monitor.Stats;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Vm;

/// <summary>
/// One run of a guest: the VM directory (RAM file, comm pages, control socket, secret), the CPU
/// and the in-monitor platform devices (PIC pair, PIT, port 0x61), the device model process,
/// the VCPU loop, and the teardown that leaves nothing behind.
/// </summary>
public sealed class VirtualMachine
{
    private const long SliceInstructions = 50_000;
    private static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(10);

    private readonly RunOptions _o;
    private readonly GuestImages _images;
    private readonly ExitStatistics _stats = new();
    private readonly Stopwatch _wall = new();
    private volatile VmEnd? _end;
    private volatile string? _dmLost;
    private Cpu.Cpu? _cpu;
    private IrqLineInput? _irq;
    private readonly GuestConsole _console;

    private VirtualMachine(RunOptions o, GuestImages images)
    {
        _o = o;
        _images = images;
        _console = new GuestConsole(o);
    }

    public static Task<int> RunAsync(RunOptions o, GuestImages images) => new VirtualMachine(o, images).RunCoreAsync();

    private void Log(string message)
    {
        if (!_o.Quiet) Console.Error.WriteLine($"virt: {message}");
    }

    /// <summary>Ends the VM from any thread (first reason wins) and gets the VCPU out of Run or HLT.</summary>
    private void RequestEnd(VmEnd end)
    {
        if (_end is null) _end = end;
        _cpu?.RequestStop();
        _irq?.Kick();
    }

    private async Task<int> RunCoreAsync()
    {
        VmDirectory dir = VmDirectory.Create();
        DeviceModelProcess? dmProcess = null;
        ControlServer? server = null;
        GuestRam? ram = null;
        PhysicalMemory? memory = null;
        SharedRegion? comm = null;
        long instructions = 0;
        using var console = _console;
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; RequestEnd(new VmEnd(ExitStatus.Interrupted, "interrupted (SIGINT)", "interrupted")); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; RequestEnd(new VmEnd(ExitStatus.Interrupted, "terminated (SIGTERM)", "interrupted")); });
        try
        {
            ram = new GuestRam(_o.MemoryBytes, dir.RamFile);
            memory = new PhysicalMemory(ram);
            comm = SharedRegion.Create(dir.CommFile, CommPageLayout.VcpuStride);
            InitialisePage(comm);
            byte[] secret = RandomNumberGenerator.GetBytes(Protocol.SecretSize);
            File.WriteAllText(dir.SecretFile, Convert.ToHexString(secret), System.Text.Encoding.ASCII);
            File.SetUnixFileMode(dir.SecretFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            // Platform devices in the monitor, as KVM keeps the PIC and PIT in the kernel (Vm/PcPlatform).
            var router = new ExitRouter(_stats) { RamSize = (ulong)_o.MemoryBytes };
            var platform = new PcPlatform(memory, router, apic: true,
                instructionTime: _o.Clock == "instructions" || (_o.Clock == "auto" && _images.Format == KernelFormat.Linux));
            var cpu = new Cpu.Cpu(memory, console.Wrap(router, () => _cpu?.InstructionsRetired ?? 0));
            platform.Connect(cpu);
            _cpu = cpu;
            LoadGuest(cpu, platform);

            server = new ControlServer(dir.SocketFile, secret, router, f => new Welcome(Protocol.Version, f, 1, (ulong)_o.MemoryBytes,
                VmDirectory.RamFileName, VmDirectory.CommFileName, CommPageLayout.PagesPerVcpu, Environment.ProcessId, _o.Wake, _o.SpinMicros));
            server.DeviceModelLost += why =>
            {
                _dmLost = why;
                RequestEnd(new VmEnd(ExitStatus.DeviceModelFailed, $"device model lost: {why}", "device-model-died"));
            };
            server.Start();

            Func<bool> dmAlive = () => true;
            if (_o.DeviceModel != "none")
            {
                if (_o.DeviceModel == "external")
                {
                    Console.Error.WriteLine($"virt: waiting for a device model: socket {dir.SocketFile}, secret in {dir.SecretFile}");
                }
                else
                {
                    dmProcess = DeviceModelProcess.Start(_o.DeviceModel, ["--serial", _o.Serial], dir.SocketFile, secret, console.RelaysInput);
                    console.ConnectInput(dmProcess, () => RequestEnd(new VmEnd(ExitStatus.Interrupted, "quit from the console (Ctrl-A X)", "quit")));
                    Log($"device model pid {dmProcess.Pid}, VM directory {dir.Path}");
                }
                var proc = dmProcess;
                Task exited = proc is null ? Task.Delay(Timeout.Infinite) : WaitExitAsync(proc);
                Task done = await Task.WhenAny(server.Ready, exited, Task.Delay(AttachTimeout));
                if (done != server.Ready || !server.Ready.IsCompletedSuccessfully)
                {
                    string why = done == exited ? $"the device model {proc!.ExitDescription} before it attached"
                        : done == server.Ready ? $"the device model failed to attach: {server.Ready.Exception?.InnerException?.Message}"
                        : $"no device model attached within {AttachTimeout.TotalSeconds} s";
                    _end = new VmEnd(ExitStatus.DeviceModelFailed, why, "device-model-attach");
                    return Finish(instructions, comm, router);
                }
                Log($"device model '{server.Ready.Result.Name}' attached (features {server.AcceptedFeatures})");
                dmAlive = () => _dmLost is null && (proc is null || !proc.HasExited);
            }
            router.Seal();
            var port = new DeviceModelPort(comm, 0, _o.Wake, _o.SpinMicros, _stats, dmAlive, new CpuStateAccess(cpu),
                StateBits.Gprs | StateBits.Segs | StateBits.Crs, ExitTimeout);
            port.StopNeeded += cpu.RequestStop;
            port.PlatformEventRaised += e => OnPlatformEvent(e, memory);
            router.DeviceModel = port;
            _irq = new IrqLineInput(comm, _stats, platform.SetIrq);
            port.Completed = _irq.Poll;

            _wall.Start();
            var vcpu = new Thread(() => VcpuLoop(cpu, platform, port, dmAlive), 16 << 20) { Name = "vcpu0" };
            vcpu.Start();
            await Task.Run(vcpu.Join);
            _wall.Stop();
            instructions = cpu.InstructionsRetired;
            return Finish(instructions, comm, router);
        }
        finally
        {
            console.Dispose();
            VmEnd end = _end ?? new VmEnd(ExitStatus.DeviceModelFailed, "internal error", "internal");
            if (server is not null)
            {
                await server.SendShutdownAsync(end.Status, end.Reason);
            }
            dmProcess?.WaitOrKill(TimeSpan.FromSeconds(3));
            if (server is not null) await server.DisposeAsync();
            dmProcess?.Dispose();
            comm?.Dispose();
            memory?.Dispose();
            ram?.Dispose();
            if (!dir.Remove()) Console.Error.WriteLine($"virt: could not remove {dir.Path}");
        }
    }

    private static Task WaitExitAsync(DeviceModelProcess p) => Task.Run(async () =>
    {
        while (!p.HasExited) await Task.Delay(20);
    });

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
    private void OnPlatformEvent(uint arg, PhysicalMemory memory)
    {
        switch ((PlatformEvent)arg)
        {
            case PlatformEvent.Reset:
                RequestEnd(new VmEnd(ExitStatus.Shutdown, "the guest reset the machine (reboot)", "reset"));
                break;
            case PlatformEvent.A20On or PlatformEvent.A20Off:
                memory.A20Enabled = (PlatformEvent)arg == PlatformEvent.A20On;
                break;
            default:
                _stats.Refuse("platform-event");
                break;
        }
    }

    private void VcpuLoop(Cpu.Cpu cpu, PcPlatform platform, DeviceModelPort port, Func<bool> dmAlive)
    {
        IrqLineInput irq = _irq!;
        while (_end is null)
        {
            irq.Poll();
            platform.AdvanceTimers();
            StopReason r;
            try
            {
                r = cpu.Run(platform.SliceBudget(SliceInstructions));
            }
            catch (Exception e)
            {
                RequestEnd(new VmEnd(ExitStatus.InternalError, $"internal error in the VCPU: {e}", "internal"));
                break;
            }
            if (port.StopValue is { } v)
            {
                RequestEnd(new VmEnd(ExitStatus.FromExitPort(v), $"the guest wrote 0x{v:X} to the exit port", "exit-port"));
                break;
            }
            if (port.Failed is { } failed)
            {
                RequestEnd(new VmEnd(ExitStatus.DeviceModelFailed, $"device model lost: {failed}", "device-model-died"));
                break;
            }
            switch (r)
            {
                case StopReason.Shutdown:
                    RequestEnd(new VmEnd(ExitStatus.Shutdown, $"the guest shut down: {cpu.ShutdownReason}", "shutdown"));
                    break;
                case StopReason.Halted:
                    _stats.Halt();
                    if ((cpu.State.Eflags & Flags.IF) == 0)
                    {
                        RequestEnd(new VmEnd(ExitStatus.HaltedWithInterruptsOff, "the guest halted with interrupts off (a power-off: Linux halts so when it has no power-off hardware)", "halted"));
                        break;
                    }
                    WaitForInterrupt(platform, irq, dmAlive);
                    break;
            }
        }
    }

    private void WaitForInterrupt(PcPlatform platform, IrqLineInput irq, Func<bool> dmAlive)
    {
        // Halted: guest time follows the host's until an interrupt arrives (Vm/GuestClock).
        platform.Clock.BeginIdle();
        try { WaitForInterruptCore(platform, irq, dmAlive); }
        finally { platform.Clock.EndIdle(); }
    }

    private void WaitForInterruptCore(PcPlatform platform, IrqLineInput irq, Func<bool> dmAlive)
    {
        while (_end is null)
        {
            irq.Poll();
            platform.AdvanceTimers();
            if (platform.HasInterrupt) return;
            if (!dmAlive())
            {
                RequestEnd(new VmEnd(ExitStatus.DeviceModelFailed, $"device model lost: {_dmLost ?? "the device model died"}", "device-model-died"));
                return;
            }
            long timeout = 20_000;
            if (platform.NextDeadline is { } d) timeout = Math.Clamp((long)Math.Ceiling(d.TotalMicroseconds), 1, timeout);
            irq.WaitForChange(timeout);
        }
    }

    private int Finish(long instructions, SharedRegion? comm, ExitRouter router)
    {
        VmEnd end = _end!;
        _console.Dispose(); // the status line and raw mode end before the report
        if (end.Status is ExitStatus.DeviceModelFailed or ExitStatus.Shutdown || !_o.Quiet)
            Console.Error.WriteLine($"virt: {end.Reason} (exit status {end.Status})");
        var report = new RunReport(end, _stats, _wall.Elapsed, instructions, comm is null ? default : DeviceCounters(comm),
            p => router.ClaimOfPort(p)?.Device ?? "(none)");
        if (!_o.Quiet) report.WriteTable(Console.Error);
        if (_o.StatsFile is { } path) report.WriteJson(path);
        return end.Status;
    }

    private static unsafe void InitialisePage(SharedRegion comm) => CommPageAccess.Initialise(comm.Base, 0, 1);

    private static unsafe DeviceModelCounters DeviceCounters(SharedRegion comm) => CommPageAccess.Page(comm.Base, 0).DeviceCounters;
}
