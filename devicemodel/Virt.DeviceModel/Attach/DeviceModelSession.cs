using System.Globalization;
using System.Net.Sockets;
using Virt.DeviceModel.Assist;
using Virt.DeviceModel.Bench;
using Virt.DeviceModel.Exits;
using Virt.DeviceModel.Hosting;
using Virt.Devices.Bus;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModel.Attach;

/// <summary>
/// One attach of this device model to a monitor: handshake, map the shared memory, build and
/// claim the devices (restoring state the monitor kept from a device model this one replaces),
/// serve exits and save device state on request, until the monitor says Shutdown or goes away.
/// </summary>
public sealed class DeviceModelSession(DeviceModelOptions options, DeviceSetFactory? devices = null)
{
    private volatile bool _running = true;

    public async Task<int> RunAsync()
    {
        byte[] secret = ReadSecret();
        await using var conn = await ControlConnection.ConnectAsync(options.SocketPath);
        var offered = Features.StringIo | Features.StateAccess | Features.IrqLines | Features.OutBatchRing
            | Features.InValueTable | Features.CommitOnCompletion | Features.StringAssist;
        await conn.SendAsync(new Hello(Protocol.Version, offered, secret, options.Name, Environment.ProcessId).ToFrame());
        var first = await conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the handshake");
        if (first.Type == MessageType.Refused)
        {
            var r = Refused.Read(first.Payload);
            DeviceModelProgram.Error($"attach refused ({r.Code}): {r.Reason}");
            return 1;
        }
        if (first.Type != MessageType.Welcome) throw new ProtocolException($"expected Welcome, got {first.Type}");
        Welcome w = Welcome.Read(first.Payload);
        var restore = new List<DeviceState>();
        for (uint i = 0; i < w.StateBlobs; i++)
        {
            var f = await conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the handshake");
            if (f.Type != MessageType.DeviceState) throw new ProtocolException($"expected DeviceState, got {f.Type}");
            restore.Add(DeviceState.Read(f.Payload));
        }

        string dir = Path.GetDirectoryName(Path.GetFullPath(options.SocketPath))!;
        using SharedRegion ram = SharedRegion.Open(InDir(dir, w.RamFile), (long)w.RamSize);
        long commSize = (long)w.VcpuCount * CommPageLayout.VcpuStride;
        using SharedRegion comm = OpenComm(InDir(dir, w.CommFile), commSize, out bool hasCrashArea);
        ValidatePages(comm, w.VcpuCount);

        var bus = new DeviceBus();
        var host = new DeviceModelHost(ram, comm);
        IExitDispatcher dispatcher = bus;
        DeviceSet? set = null;
        if (options.Bench)
        {
            dispatcher = new EchoDispatcher();
            bus.Add(new NullDevice("bench-echo", [BusRange.Ports(0xBE00, 0x100)]));
        }
        else
        {
            set = (devices ?? DeviceSet.Pc(options.Serial, options.Devices))(bus, host, w.RamSize);
            if (options.TestDevices)
            {
                var test = new IoTestDevice();
                test.Attach(host);
                bus.Add(test);
            }
        }
        DeviceStateTransfer.Restore(bus, restore);
        if (w.CrashSnapshot)
        {
            // The state is a crash snapshot: the guest ran on after it; devices bring themselves to a state its drivers recover from.
            lock (bus.Lock)
                foreach (var d in bus.Devices.OfType<Virt.Devices.State.ICrashRecovery>()) d.RecoverAfterCrash();
        }
        unsafe { if (hasCrashArea) bus.CrashStateArea = comm.Base + CrashState.OffsetFor(w.VcpuCount); }
        bus.SnapshotForCrash();
        foreach (string c in options.TestClaims)
        {
            string[] parts = c.Split(':');
            var range = BusRange.Ports(ushort.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                ushort.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            // Not added to the bus: a claim the monitor must refuse before it is ever used.
            if (!await ClaimAsync(conn, 1000 + (uint)Array.IndexOf(options.TestClaims, c), range, "test-claim", ClaimFlags.None)) return 1;
        }
        // Each range with the policy its device declares, as far as the monitor accepted the features.
        ClaimFlags allowed = ((w.Features & Features.OutBatchRing) != 0 ? ClaimFlags.BatchedWrites : 0)
            | ((w.Features & Features.InValueTable) != 0 ? ClaimFlags.CachedReads : 0)
            | ClaimFlags.PlatformEvents; // no feature: the ranges whose devices end or reset the machine say so
        uint id = 0;
        foreach (var (r, flags, device) in bus.Claims(allowed).ToList())
            if (!await ClaimAsync(conn, id++, r, device, flags)) return 1;
        if ((w.Features & Features.InValueTable) != 0)
        {
            bus.Table = new InTableWriter(comm, w.VcpuCount);
            bus.RefreshCachedReads();
        }
        var state = new VcpuStateAccess(commitOnCompletion: (w.Features & Features.CommitOnCompletion) != 0);

        // Start serving before Ready: the guest may exit to us as soon as the monitor sees it.
        Socket? doorbell = w.WakeMode == WakeMode.Socket ? ConnectDoorbell(dir) : null;
        HostileBehaviour? hostile = Environment.GetEnvironmentVariable("VIRT_DM_HOSTILE") == "1" ? new HostileBehaviour()
            : int.TryParse(Environment.GetEnvironmentVariable("VIRT_DM_FUZZ"), out int fuzzSeed) ? new HostileBehaviour(fuzzSeed) : null;
        var threads = new List<Thread>();
        for (int v = 0; v < w.VcpuCount; v++)
        {
            var server = new ExitServer(comm, v, w.WakeMode, w.SpinMicros, dispatcher, KeepRunning(w.MonitorPid), hostile, doorbell,
                bus, new StringIoAssistant(ram, state), state);
            var t = new Thread(server.Run) { Name = $"exits-vcpu{v}", IsBackground = true };
            t.Start();
            threads.Add(t);
        }
        set?.Start(KeepRunning(w.MonitorPid));
        await conn.SendAsync(Ready.ToFrame());

        bool orderly = false;
        try
        {
            while (await conn.ReceiveAsync() is { } frame)
            {
                if (frame.Type == MessageType.Shutdown)
                {
                    orderly = true;
                    break;
                }
                if (frame.Type == MessageType.SaveState)
                {
                    // The guest is paused: what the console holds goes out first, then the devices' state goes to the monitor.
                    set?.Flush();
                    List<DeviceState> saved = DeviceStateTransfer.Save(bus);
                    foreach (DeviceState d in saved) await conn.SendAsync(d.ToFrame());
                    await conn.SendAsync(new StateSaved((uint)saved.Count).ToFrame());
                }
            }
        }
        catch (IOException) { }
        catch (System.Net.Sockets.SocketException) { }
        _running = false;
        foreach (Thread t in threads) t.Join(1000);
        set?.Dispose();
        doorbell?.Dispose();
        if (!orderly)
        {
            // The monitor went away without a Shutdown: if it is dead, nobody else will clean up its VM directory.
            if (!ProcessLiveness.IsAlive(w.MonitorPid) && VmDirectory.TryRemove(dir))
                DeviceModelProgram.Error($"the monitor (pid {w.MonitorPid}) died; removed {dir}");
            else
                DeviceModelProgram.Error("the monitor closed the control socket");
            return 1;
        }
        return 0;
    }

    private Func<bool> KeepRunning(int monitorPid) => () => _running && ProcessLiveness.IsAlive(monitorPid);

    /// <summary>The comm region with its crash-state area when the monitor made one (1.2), else without.</summary>
    private static SharedRegion OpenComm(string path, long size, out bool hasCrashArea)
    {
        try
        {
            hasCrashArea = true;
            return SharedRegion.Open(path, size + CrashState.Size);
        }
        catch (InvalidDataException)
        {
            hasCrashArea = false;
            return SharedRegion.Open(path, size);
        }
    }

    private static unsafe void ValidatePages(SharedRegion comm, int vcpus)
    {
        for (int v = 0; v < vcpus; v++)
            if (CommPageAccess.Validate(comm.Base, v) is { } error) throw new InvalidDataException(error);
    }

    private static string InDir(string dir, string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..") throw new InvalidDataException($"bad file name from the monitor: '{name}'");
        return Path.Combine(dir, name);
    }

    private static Socket ConnectDoorbell(string dir)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(dir, "doorbell.sock")));
        return s;
    }

    private static async Task<bool> ClaimAsync(ControlConnection conn, uint id, BusRange range, string device, ClaimFlags flags)
    {
        await conn.SendAsync(new Claim(id, (byte)range.Space, range.Start, range.Length, (uint)flags, device).ToFrame());
        var f = await conn.ReceiveAsync() ?? throw new IOException("the monitor closed the connection during the claims");
        if (f.Type == MessageType.Refused)
        {
            DeviceModelProgram.Error($"refused: {Refused.Read(f.Payload).Reason}");
            return false;
        }
        if (f.Type != MessageType.ClaimResult) throw new ProtocolException($"expected ClaimResult, got {f.Type}");
        var result = ClaimResult.Read(f.Payload);
        if (!result.Accepted)
        {
            DeviceModelProgram.Error($"claim of {range} for {device} refused: {result.Reason}");
            return false;
        }
        return true;
    }

    private static byte[] ReadSecret()
    {
        string? hex = Environment.GetEnvironmentVariable(Protocol.SecretEnvironmentVariable);
        if (string.IsNullOrEmpty(hex))
            throw new ArgumentException($"no secret: virt-dm is started by `virt run`, or set {Protocol.SecretEnvironmentVariable} from the VM directory's secret file");
        try
        {
            byte[] b = Convert.FromHexString(hex.Trim());
            return b.Length == Protocol.SecretSize ? b : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{Protocol.SecretEnvironmentVariable} must be {Protocol.SecretSize * 2} hex digits");
        }
    }
}
