using Virt.Monitor.Cli;
using Virt.Monitor.Launch;
using Virt.Monitor.Terminal;
using Virt.Shared.Control;
using Virt.Shared.Runtime;

namespace Virt.Monitor.Attachment;

/// <summary>
/// Starts device model processes with this VM's socket and secret, and keeps them until they are let
/// go. A started model is <see cref="AttachmentPhase.Launching"/> until its Hello, whose attachment
/// takes over the lifecycle begun here (<see cref="AtHello"/>). Any thread.
/// </summary>
public sealed class DeviceModelLauncher(VmDirectory dir, byte[] secret, RunOptions options)
{
    private readonly List<(LaunchedDeviceModel Launch, AttachmentLifecycle Lifecycle)> _launched = new();

    /// <summary>virt's console: the bundled PC model started with the console on stdio gets the keyboard through it.</summary>
    public GuestConsole? GuestConsole { get; internal set; }

    /// <summary>Called when the user quits from the console (Ctrl-A X).</summary>
    public Action? ConsoleQuit { get; internal set; }

    /// <summary>Starts a device model with this VM's socket and secret (in its environment).</summary>
    /// <param name="restore">The device state a restored snapshot holds for this model (sent after its Welcome).</param>
    public LaunchedDeviceModel Start(DeviceModelCommand command, bool platformAuthority = false, IReadOnlyList<DeviceState>? restore = null)
    {
        // COM1's output is the bundled model's only where COM1 runs in it: placed in the monitor or the firmware, the
        // model must not open (and truncate) the --serial file under the output already written there (a restore runs
        // the guest while its models start).
        string serial = options.PlacementOf(Virt.Pc.Board.PcBoard.Com1.Name) == Placement.DeviceModel ? options.Serial : "none";
        IEnumerable<string> args = command.IsBundledPc && !command.Arguments.Contains("--serial") ? [.. command.Arguments, "--serial", serial] : command.Arguments;
        if (command.IsBundledPc) args = [.. args, .. options.DeviceModelArgs];
        // A device --place put elsewhere is left out of the bundled PC model, unless its --devices says otherwise (then its claim is refused, with the owner named).
        if (command.IsBundledPc && !args.Contains("--devices") && PlacementOption.DeviceModelDevices(options.Placements) is { } devices)
            args = [.. args, "--devices", string.Join(',', devices)];
        // The keyboard goes to the model that owns the console (the bundled PC model on stdio); a
        // restarted or swapped-in one takes it over.
        bool relay = command.IsBundledPc && GuestConsole is { RelaysInput: true };
        var process = DeviceModelProcess.Start(command.Program, args, dir.SocketFile, secret, relay);
        if (relay) GuestConsole!.ConnectInput(process, () => ConsoleQuit?.Invoke());
        var launched = new LaunchedDeviceModel(command, process, platformAuthority, restore);
        lock (_launched) _launched.Add((launched, AttachmentLifecycle.Launched()));
        return launched;
    }

    /// <summary>
    /// A Hello from <paramref name="pid"/> (the kernel's word, SO_PEERCRED): the process we started
    /// with that pid, if any, and the lifecycle the attachment goes on with. A second connection from
    /// the same process begins a lifecycle of its own.
    /// </summary>
    public (LaunchedDeviceModel? Launch, AttachmentLifecycle Lifecycle) AtHello(int pid)
    {
        lock (_launched)
            foreach (var (launch, lifecycle) in _launched)
                if (launch.Process.Pid == pid)
                    return (launch, lifecycle.Fire(AttachmentEvent.Hello).Allowed ? lifecycle : AttachmentLifecycle.Greeted());
        return (null, AttachmentLifecycle.Greeted());
    }

    /// <summary>
    /// A started process that will not attach (it exited, or took too long): the process goes, and so
    /// does its launch if it never said Hello. A Hello it did say made an attachment whose lifecycle
    /// is the control server's to end (its connection closes with the process), with the cleanup that goes with it.
    /// </summary>
    public void Abandon(LaunchedDeviceModel launched, string why)
    {
        // Under the lock AtHello fires Hello under: Launching can only become Handshaking there, so the check holds.
        lock (_launched)
            foreach (var (launch, lifecycle) in _launched)
                if (launch == launched && lifecycle.Phase == AttachmentPhase.Launching) lifecycle.Retire(why);
        launched.Process.WaitOrKill(TimeSpan.Zero);
    }

    /// <summary>A retired model of ours: make sure it is gone, then let go of it (its stdin pipe, when the console relayed to it, is a descriptor per swap otherwise).</summary>
    public void LetGo(LaunchedDeviceModel launched, TimeSpan grace)
    {
        launched.Process.WaitOrKill(grace);
        lock (_launched) _launched.RemoveAll(l => l.Launch == launched);
        launched.Process.Dispose();
    }

    /// <summary>The VM has ended: waits for every process we started (killing what outstays <paramref name="grace"/>).</summary>
    public void WaitAll(TimeSpan grace)
    {
        foreach (LaunchedDeviceModel l in Snapshot()) l.Process.WaitOrKill(grace);
    }

    public void DisposeAll()
    {
        foreach (LaunchedDeviceModel l in Snapshot()) l.Process.Dispose();
    }

    private LaunchedDeviceModel[] Snapshot()
    {
        lock (_launched) return _launched.Select(l => l.Launch).ToArray();
    }
}
