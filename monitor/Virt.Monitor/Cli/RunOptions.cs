using System.Globalization;
using Virt.CommandLine;
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
    public string? Kernel { get; init; }
    public IReadOnlyList<string> Initrd { get; init; } = [];
    public string Append { get; init; } = "";
    public string? Bios { get; init; }
    public string Serial { get; init; } = "stdio";
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
    /// <summary>-D: the log file (default stderr).</summary>
    public string? LogFile { get; init; }

    public static readonly string Usage = $"""
        usage: virt run [options]
          -m SIZE                guest RAM, e.g. 64M, 1G (default 64M; a bare number is MiB)
          --kernel FILE          Linux bzImage or Multiboot ELF kernel (told apart by their headers)
          --initrd FILE[,FILE]   Linux: the initrd (several are concatenated); Multiboot: the modules
          --append STRING        kernel command line
          --bios ROM             firmware image mapped below 4 GiB; the CPU starts at its reset vector
          --demo                 run the bundled demo guest
          --restore FILE         resume a VM saved by `virt save` (RAM, CPU, platform and device state);
                                 its device models start again with their saved state, or --dm ones take it
          --serial stdio|file:PATH|none   where COM1 goes (default stdio)
          --dm NAME|PATH|external|none    device model, repeatable: several attach at once, each
                                 claiming its own ranges (default virt-dm; also virt-harness);
                                 arguments follow after spaces: --dm "virt-dm --devices com1,rtc"
          --restart-dm           start a device model again if it dies or hangs (the guest waits)
          --dm-timeout SECONDS   an exit not completed in this time means the device model hangs (default 10)
          --stats FILE.json      write the exit statistics as JSON, with a timeline of exits, round trips and
                                 instructions per interval (draw it with virt plot FILE.json -o FILE.png)
          --stats-interval MS    wall time between two timeline samples (default 10; docs/observing.md)
          --wakeup adaptive|spin|spin-futex|futex  how monitor and device model wake each other (default adaptive: docs/wakeup.md)
          --spin-us N            spin time before sleeping, for spin-futex; the cap of adaptive's learned spin (default 50)
          --cpu-engine native|translate|interp  hot blocks compiled to x86-64 host code with guest instructions
                                 copied 1:1 (default), to IL (translate), or every block interpreted (docs/cpu.md)
        {CpuModel.Help.TrimEnd()}
          --clock auto|instructions|host  guest time: instructions retired (10 ns each, host time while halted) or
                                 the host clock (default auto: instructions for Linux, host otherwise; docs/linux.md)
          --io naive|batched     batched (default): writes the device model declares batchable wait in the
                                 comm page ring and cached INs are answered from its table; naive: every access is a round trip
          --state naive|cached   cached (default): state the device model needs is in the comm page on each exit and
                                 its commits ride on the completion; naive: every get and set is a round trip (docs/io.md)
          --flush-us N           longest a batched write waits before it is flushed (default 2000)
          --dm-arg ARG           pass ARG to the launched virt-dm (repeatable; e.g. --dm-arg --devices --dm-arg com1,rtc,exit)
          -s                     GDB stub on tcp::1234 (as --gdb tcp::1234); gdb: target remote :1234
          --gdb tcp::PORT        GDB stub on PORT of 127.0.0.1 (also -gdb, tcp:localhost:PORT; port 0 picks
                                 one and prints it): breakpoints, watchpoints, steps (docs/debugging.md)
          -S                     the guest waits for the debugger before its first instruction
          -d ITEM[,ITEM]         log int, cpu_reset, guest_errors, exits (-d help lists them)
          -D FILE                write the -d log to FILE instead of stderr
          -q, --quiet            no progress and no report on stderr
        exit status: (v << 1) | 1 when the guest writes v < 0x7F to port 0xF4, 255 for any larger v (the
        exact value is on stderr and in --stats); 0 when it halts with
        interrupts off (Linux: poweroff); 2 bad usage or image; 4 device model failure (at launch); 6 reset (reboot, triple fault); 8 internal error; 130 interrupted.
        """;

    public static RunOptions Parse(string[] args)
    {
        var o = new RunOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value\n{Usage}");
            o = a switch
            {
                "-m" or "--memory" => o with { MemoryBytes = MemorySize.Parse(Next()), MemoryGiven = true },
                "--restore" => o with { Restore = Next() },
                "--kernel" or "-kernel" => o with { Kernel = Next() },
                "--initrd" or "-initrd" => o with { Initrd = Next().Split(',', StringSplitOptions.RemoveEmptyEntries) },
                "--append" or "-append" => o with { Append = Next() },
                "--bios" or "-bios" => o with { Bios = Next() },
                "--serial" or "-serial" => o with { Serial = SerialTarget.Check(Next()) },
                "--dm" => o with { DeviceModels = [.. o.DeviceModels, Next()] },
                "--restart-dm" => o with { RestartDeviceModel = true },
                "--dm-timeout" => o with { DeviceModelTimeoutSeconds = ParseInt(a, Next(), 1, 3600) },
                "--stats" => o with { StatsFile = Next() },
                "--stats-interval" => o with { StatsIntervalMillis = ParseInt(a, Next(), 1, 60_000) },
                "--demo" => o with { Demo = true },
                "--wakeup" => o with { Wake = ParseWake(Next()) },
                "--spin-us" => o with { SpinMicros = ParseInt(a, Next(), 0, 1_000_000) },
                "--cpu-engine" => o with { CpuEngine = Next() is var v && Virt.Cpu.Cpu.ParseEngine(v) is { } e ? e : throw new ArgumentException($"--cpu-engine {v}: expected translate, native or interp") },
                "--cpu" or "-cpu" => o with { Paravirt = CpuModel.Parse(Next(), o.Paravirt) },
                "--clock" => o with { Clock = Next() is var c && c is "auto" or "instructions" or "host" ? c : throw new ArgumentException($"--clock {c}: expected auto, instructions or host") },
                "-q" or "--quiet" => o with { Quiet = true },
                "--io" => o with { IoBatched = Next() switch { "batched" => true, "naive" => false, var v => throw new ArgumentException($"--io {v}: expected naive or batched") } },
                "--state" => o with { StateCached = Next() switch { "cached" => true, "naive" => false, var v => throw new ArgumentException($"--state {v}: expected naive or cached") } },
                "--flush-us" => o with { FlushMicros = ParseInt(a, Next(), 1, 1_000_000) },
                "--dm-arg" => o with { DeviceModelArgs = [.. o.DeviceModelArgs, Next()] },
                "-s" => o with { Gdb = GdbEndpoint.Default },
                "--gdb" or "-gdb" => o with { Gdb = GdbEndpoint.Parse(Next()) },
                "-S" => o with { WaitForDebugger = true },
                "-d" => Next() is "help" ? throw new HelpRequested(GuestLogItemNames.Help) : o with { LogItems = o.LogItems | GuestLogItemNames.Parse(args[i]) },
                "-D" => o with { LogFile = Next() },
                "-h" or "--help" => throw new HelpRequested(),
                _ => throw new ArgumentException($"unknown option '{a}'\n{Usage}"),
            };
        }
        int images = (o.Kernel is null ? 0 : 1) + (o.Bios is null ? 0 : 1) + (o.Demo ? 1 : 0);
        if (o.Restore is not null)
        {
            // The snapshot is the whole machine: nothing is loaded into it.
            if (images > 0 || o.Initrd.Count > 0 || o.Append.Length > 0)
                throw new ArgumentException("--restore resumes a saved machine: it takes no --kernel, --bios, --demo, --initrd or --append");
            return o;
        }
        if (images == 0) throw new ArgumentException($"nothing to run: give --kernel FILE, --bios ROM or --demo\n{Usage}");
        if (o.Demo && o.Kernel is not null) throw new ArgumentException("--demo and --kernel exclude each other");
        if (o.Initrd.Count > 0 && o.Kernel is null) throw new ArgumentException("--initrd needs --kernel");
        if (args.Contains("--stats-interval") && o.StatsFile is null) throw new ArgumentException("--stats-interval needs --stats FILE.json");
        if (o.WaitForDebugger && o.Gdb is null) throw new ArgumentException("-S waits for a debugger: give -s or --gdb tcp::PORT too");
        if (o.LogFile is not null && o.LogItems == GuestLogItems.None) throw new ArgumentException("-D names the log file of -d: give -d ITEM too");
        return o;
    }

    /// <summary>-h (the usage) or -d help (the log items): printed on stdout, status 0.</summary>
    public sealed class HelpRequested(string? text = null) : Exception
    {
        public string Text => text ?? Usage;
    }

    private static WakeMode ParseWake(string s) => s switch
    {
        "spin" => WakeMode.Spin,
        "spin-futex" => WakeMode.SpinFutex,
        "futex" => WakeMode.Futex,
        "adaptive" => WakeMode.Adaptive,
        _ => throw new ArgumentException($"--wakeup {s}: expected adaptive, spin, spin-futex or futex"),
    };

    private static int ParseInt(string option, string s, int min, int max) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v
            : throw new ArgumentException($"{option} {s}: expected a number from {min} to {max}");
}
