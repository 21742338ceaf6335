using System.Net.Sockets;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.DeviceModelKit.Attach;

/// <summary>The files of the VM directory a device model maps or connects to, by the names Welcome gives (never a path: a name with '/' is refused).</summary>
internal static class VmFiles
{
    public static SharedRegion OpenRam(string dir, Welcome w) => SharedRegion.Open(InDir(dir, w.RamFile), (long)w.RamSize);

    /// <summary>The comm region, its pages validated, with its crash-state area when the monitor made one (1.2), else without.</summary>
    public static unsafe SharedRegion OpenComm(string dir, Welcome w, out bool hasCrashArea)
    {
        string path = InDir(dir, w.CommFile);
        long size = (long)w.VcpuCount * CommPageLayout.VcpuStride;
        SharedRegion comm;
        try
        {
            hasCrashArea = true;
            comm = SharedRegion.Open(path, size + CrashState.Size);
        }
        catch (InvalidDataException)
        {
            hasCrashArea = false;
            comm = SharedRegion.Open(path, size);
        }
        for (int v = 0; v < w.VcpuCount; v++)
        {
            if (CommPageAccess.Validate(comm.Base, v) is not { } error) continue;
            comm.Dispose();
            throw new InvalidDataException(error);
        }
        return comm;
    }

    /// <summary>The socket doorbell of WakeMode.Socket (`virt bench wakeup` only).</summary>
    public static Socket ConnectDoorbell(string dir)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(Path.Combine(dir, "doorbell.sock")));
        return s;
    }

    private static string InDir(string dir, string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..") throw new InvalidDataException($"bad file name from the monitor: '{name}'");
        return Path.Combine(dir, name);
    }
}
