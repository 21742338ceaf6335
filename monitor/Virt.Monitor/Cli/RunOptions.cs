using Virt.Monitor.Debug;
using Virt.Monitor.Logging;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Cli;

/// <summary>The options of `virt run`, QEMU-style where QEMU has one.</summary>
public sealed record RunOptions
{
    public long MemoryBytes { get; init; } = 64L << 20;
    /// <summary>-m was given (a restore then checks it against the saved size instead of taking the saved one).</summary>
    public bool MemoryGiven { get; init; }
    /// <summary>--restore: a snapshot written by `virt save` to resume instead of booting (docs/snapshots.md).</summary>
    public string? Restore { get; init; }
    /// <summary>--incoming: build the VM and its device models, run no guest, and wait for `virt restore VM FILE` (docs/snapshots.md).</summary>
    public bool Incoming { get; init; }
    public string? Kernel { get; init; }
    public IReadOnlyList<string> Initrd { get; init; } = [];
    public string Append { get; init; } = "";
    public string? Bios { get; init; }
    public string Serial { get; init; } = "stdio";
    /// <summary>--place: where each device named runs (docs/placements.md); a device not named stays where the board puts it.</summary>
    public IReadOnlyDictionary<string, Placement> Placements { get; init; } = new Dictionary<string, Placement>();

    /// <summary>Where <paramref name="device"/> runs in this run: its --place, else a device model (the board's home of every placeable device).</summary>
    public Placement PlacementOf(string device) => Placements.TryGetValue(device, out Placement p) ? p : Placement.DeviceModel;
    /// <summary>
    /// Each --dm: a bundled name (virt-dm, virt-harness) or a path, with arguments after spaces;
    /// "external" (wait for a device model started by hand) or "none". Empty: virt-dm.
    /// </summary>
    public IReadOnlyList<string> DeviceModels { get; init; } = [];
    /// <summary>Start a device model the monitor launched again when it dies or hangs (--restart-dm).</summary>
    public bool RestartDeviceModel { get; init; }
    /// <summary>How long a device model may take to complete one exit before it counts as hung.</summary>
    public int DeviceModelTimeoutSeconds { get; init; } = 10;
    public string? StatsFile { get; init; }
    /// <summary>--stats-interval: wall time between two samples of the --stats timeline (Stats/Timeline).</summary>
    public int StatsIntervalMillis { get; init; } = 10;
    public bool Demo { get; init; }
    public WakeMode Wake { get; init; } = WakeMode.Adaptive;
    public int SpinMicros { get; init; } = 50;
    public bool Quiet { get; init; }
    /// <summary>"auto" (instructions for a Linux kernel, host otherwise), "instructions" or "host": see Vm/GuestClock.</summary>
    public string Clock { get; init; } = "auto";
    /// <summary>--cpu-engine: the native backend (default, or VIRT_CPU_ENGINE), the IL translator or the interpreter alone (docs/cpu.md).</summary>
    public Virt.Cpu.Translation.CpuEngine CpuEngine { get; init; } = Virt.Cpu.Cpu.EngineFromEnvironment();
    /// <summary>--cpu: the paravirtual interfaces offered to the guest (all by default; docs/paravirt.md).</summary>
    public Virt.Cpu.Paravirt.ParavirtFeatures Paravirt { get; init; } = Virt.Cpu.Paravirt.ParavirtFeatures.All;
    /// <summary>--io: batched honours the device model's batched-write and cached-read claims; naive makes every access a round trip.</summary>
    public bool IoBatched { get; init; } = true;
    /// <summary>--state: cached = NVMM's comm page (speculative state, commits ride on completions); naive = every get and set a round trip.</summary>
    public bool StateCached { get; init; } = true;
    /// <summary>--flush-us: the latency bound of a batched write.</summary>
    public int FlushMicros { get; init; } = 2000;
    /// <summary>--dm-arg: extra arguments for the launched virt-dm (e.g. --devices com1,rtc,exit).</summary>
    public IReadOnlyList<string> DeviceModelArgs { get; init; } = [];
    /// <summary>-s / --gdb: where the GDB stub listens (docs/debugging.md); null: no stub.</summary>
    public GdbEndpoint? Gdb { get; init; }
    /// <summary>-S: the guest waits for the debugger before its first instruction.</summary>
    public bool WaitForDebugger { get; init; }
    /// <summary>-d: what the guest log writes; None: no log.</summary>
    public GuestLogItems LogItems { get; init; }
    /// <summary>--place com1=firmware: COM1 emulated by the guest's firmware (Firmware/GuestFirmware, docs/firmware-reflection.md).</summary>
    public bool Com1InFirmware => PlacementOf(Virt.Pc.Board.PcBoard.Com1.Name) == Placement.Firmware;
    /// <summary>-D: the log file (default stderr).</summary>
    public string? LogFile { get; init; }

    /// <summary>`virt run`'s arguments as its command line reads them (<see cref="RunCommand"/>).</summary>
    /// <exception cref="ArgumentException">Bad options or values.</exception>
    public static RunOptions Parse(string[] args) => RunCommand.Parse(args);
}
