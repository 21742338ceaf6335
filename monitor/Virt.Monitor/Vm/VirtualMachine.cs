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

    private VirtualMachine(RunOptions o, GuestImages images)
    {
        _o = o;
        _images = images;
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

            // Platform devices in the monitor, as KVM keeps the PIC and PIT in the kernel.
            var router = new ExitRouter(_stats) { RamSize = (ulong)_o.MemoryBytes };
            var pic = new DualPic8259();
            var pit = new Pit8254();
            var portB = new SystemControlPortB(pit);
            var host = new MonitorDeviceHost(pic, memory);
            foreach (var d in new Virt.Devices.Bus.IDevice[] { pic, pit, portB })
            {
                d.Attach(host);
                router.AddLocal(d);
            }
            var cpu = new Cpu.Cpu(memory, router) { InterruptController = new PicInterruptController(pic) };
            _cpu = cpu;
            LoadGuest(cpu, memory);

            server = new ControlServer(dir.SocketFile, secret, router, f => new Welcome(Protocol.Version, f, 1, (ulong)_o.MemoryBytes,
                VmDirectory.RamFileName, VmDirectory.CommFileName, CommPageLayout.PagesPerVcpu, Environment.ProcessId, _o.Wake, _o.SpinMicros))
            {
                Supported = Features.MonitorSupported
                    & ~(_o.IoBatched ? Features.None : Features.OutBatchRing | Features.InValueTable)
                    & ~(_o.StateCached ? Features.None : Features.CommitOnCompletion),
            };
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
                    dmProcess = DeviceModelProcess.Start(_o.DeviceModel, ["--serial", _o.Serial, .. _o.DeviceModelArgs], dir.SocketFile, secret);
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
            Features accepted = server.AcceptedFeatures;
            // I/O exits cache what the I/O assist reads (NVMM: GPRS|SEGS|CRS|MSRS); MMIO exits nothing (docs/io.md).
            var port = new DeviceModelPort(comm, 0, _o.Wake, _o.SpinMicros, _stats, dmAlive, new CpuStateAccess(cpu),
                _o.StateCached ? StateBits.Gprs | StateBits.Segs | StateBits.Crs | StateBits.Msrs : StateBits.None, ExitTimeout)
            {
                Batching = (accepted & Features.OutBatchRing) != 0,
                CachedReads = (accepted & Features.InValueTable) != 0,
                StringAssist = (accepted & (Features.StringAssist | Features.StateAccess)) == (Features.StringAssist | Features.StateAccess),
                FlushLatency = TimeSpan.FromMicroseconds(_o.FlushMicros),
                RamWritten = (address, length) => DropDecodedCode(memory, address, length),
            };
            port.StopNeeded += cpu.RequestStop;
            router.DeviceModel = port;
            _irq = new IrqLineInput(comm, _stats, pic.SetIrq);
            port.Completed = _irq.Poll;

            _wall.Start();
            var vcpu = new Thread(() => VcpuLoop(cpu, pic, pit, port, dmAlive), 16 << 20) { Name = "vcpu0" };
            vcpu.Start();
            await Task.Run(vcpu.Join);
            _wall.Stop();
            instructions = cpu.InstructionsRetired;
            return Finish(instructions, comm, router);
        }
        finally
        {
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

    private void LoadGuest(Cpu.Cpu cpu, PhysicalMemory memory)
    {
        if (_images.Bios is { } bios)
        {
            RomLoader.LoadBios(cpu, bios);
        }
        if (_images.Kernel is { } kernel)
            MultibootLoader.Load(cpu, kernel, _images.KernelName + (_o.Append.Length > 0 ? " " + _o.Append : ""), _images.Modules);
    }

    private void VcpuLoop(Cpu.Cpu cpu, DualPic8259 pic, Pit8254 pit, DeviceModelPort port, Func<bool> dmAlive)
    {
        IrqLineInput irq = _irq!;
        while (_end is null)
        {
            irq.Poll();
            if (pit.NextDeadline is { } due && due <= TimeSpan.Zero) pit.Advance();
            StopReason r;
            try
            {
                r = cpu.Run(SliceInstructions);
            }
            catch (Exception e)
            {
                RequestEnd(new VmEnd(ExitStatus.InternalError, $"internal error in the VCPU: {e}", "internal"));
                break;
            }
            port.FlushIfDue(); // the latency bound of batched writes
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
                        RequestEnd(new VmEnd(ExitStatus.HaltedWithInterruptsOff, "the guest halted with interrupts off", "halted"));
                        break;
                    }
                    port.Flush(FlushReason.Halt);
                    WaitForInterrupt(pic, pit, irq, dmAlive);
                    break;
            }
        }
        port.Flush(FlushReason.Shutdown); // output never stays in the ring
    }

    /// <summary>The device model wrote guest RAM: decoded blocks on those pages are stale.</summary>
    private static void DropDecodedCode(PhysicalMemory memory, uint address, uint length)
    {
        ulong end = Math.Min((ulong)address + length, (ulong)memory.Ram.Size);
        for (ulong a = address & ~0xFFFUL; a < end; a += 0x1000) memory.NotifyWrite((uint)a);
    }

    private void WaitForInterrupt(DualPic8259 pic, Pit8254 pit, IrqLineInput irq, Func<bool> dmAlive)
    {
        while (_end is null)
        {
            irq.Poll();
            if (pit.NextDeadline is { } due && due <= TimeSpan.Zero) pit.Advance();
            if (pic.HasInterrupt) return;
            if (!dmAlive())
            {
                RequestEnd(new VmEnd(ExitStatus.DeviceModelFailed, $"device model lost: {_dmLost ?? "the device model died"}", "device-model-died"));
                return;
            }
            long timeout = 20_000;
            if (pit.NextDeadline is { } d) timeout = Math.Clamp((long)d.TotalMicroseconds, 1, timeout);
            irq.WaitForChange(timeout);
        }
    }

    private int Finish(long instructions, SharedRegion? comm, ExitRouter router)
    {
        VmEnd end = _end!;
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
