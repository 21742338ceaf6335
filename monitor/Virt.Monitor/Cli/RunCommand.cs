using System.CommandLine;
using System.Globalization;
using Virt.CommandLine;
using Virt.Monitor.Debug;
using Virt.Monitor.Logging;
using Virt.Monitor.Vm;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Cli;

/// <summary>`virt run`: its options (QEMU's spelling where QEMU has one), then check the images, run the VM, report.</summary>
public static class RunCommand
{
    private const string Description = """
        run a guest. Exit status: (v << 1) | 1 when the guest writes v < 0x7F to port 0xF4, 255 for any larger v (the
        exact value is on stderr and in --stats); 0 when it halts with interrupts off (Linux: poweroff); 2 bad usage or
        image; 4 device model failure (at launch); 6 reset (reboot, triple fault); 8 internal error; 130 interrupted.
        """;

    private static readonly Option<long?> s_memory = LastValueOption.Create<long?>("-m", "SIZE", "guest RAM, e.g. 64M, 1G (default 64M; a bare number is MiB)", s => MemorySize.Parse(s), "--memory");
    private static readonly Option<string?> s_kernel = LastValueOption.Text("--kernel", "FILE", "Linux bzImage or Multiboot ELF kernel (told apart by their headers); --kernel or QEMU's -kernel", "-kernel");
    private static readonly Option<string?> s_initrd = LastValueOption.Text("--initrd", "FILE[,FILE]", "Linux: the initrd (several are concatenated); Multiboot: the modules; --initrd or QEMU's -initrd", "-initrd");
    private static readonly Option<string?> s_append = LastValueOption.Text("--append", "STRING", "kernel command line; --append or QEMU's -append", "-append");
    private static readonly Option<string?> s_bios = LastValueOption.Text("--bios", "ROM", "firmware image mapped below 4 GiB; the CPU starts at its reset vector; --bios or QEMU's -bios", "-bios");
    private static readonly Option<bool> s_demo = new("--demo") { Description = "run the bundled demo guest" };
    private static readonly Option<string?> s_restore = LastValueOption.Text("--restore", "FILE",
        "resume a VM saved by `virt save` (RAM, CPU, platform and device state); its device models start again with their saved state, or --dm ones take it");
    private static readonly Option<bool> s_incoming = new("--incoming")
    {
        Description = "start the VM and its device models, ready, but run no guest: wait for virt restore VM FILE to load a snapshot and run it "
            + "(as QEMU's -incoming defer); -m must be the saved size",
    };
    private static readonly Option<string?> s_serial = LastValueOption.Create<string?>("--serial", "stdio|file:PATH|none", "where COM1 goes (default stdio); --serial or QEMU's -serial", s => SerialTarget.Check(s), "-serial");
    private static readonly Option<string[]> s_place = Repeatable("--place", "DEV=dm|monitor|firmware", PlacementOption.Help);
    private static readonly Option<string[]> s_dm = Repeatable("--dm", "NAME|PATH|external|none",
        "device model, repeatable: several attach at once, each claiming its own ranges (default virt-dm; also virt-harness); arguments follow after spaces: --dm \"virt-dm --devices com1,rtc\"");
    private static readonly Option<bool> s_restartDm = new("--restart-dm") { Description = "start a device model again if it dies or hangs (the guest waits)" };
    private static readonly Option<int?> s_dmTimeout = LastValueOption.Create<int?>("--dm-timeout", "SECONDS", "an exit not completed in this time means the device model hangs (default 10)", s => Int("--dm-timeout", s, 1, 3600));
    private static readonly Option<string?> s_stats = LastValueOption.Text("--stats", "FILE.json",
        "write the exit statistics as JSON, with a timeline of exits, round trips and instructions per interval (draw it with virt plot FILE.json -o FILE.png)");
    private static readonly Option<int?> s_statsInterval = LastValueOption.Create<int?>("--stats-interval", "MS", "wall time between two timeline samples (default 10; docs/observing.md)", s => Int("--stats-interval", s, 1, 60_000));
    private static readonly Option<WakeMode?> s_wakeup = LastValueOption.Create<WakeMode?>("--wakeup", "adaptive|spin|spin-futex|futex", "how monitor and device model wake each other (default adaptive: docs/wakeup.md)", s => Wake(s));
    private static readonly Option<int?> s_spin = LastValueOption.Create<int?>("--spin-us", "N", "spin time before sleeping, for spin-futex; the cap of adaptive's learned spin (default 50)", s => Int("--spin-us", s, 0, 1_000_000));
    private static readonly Option<Virt.Cpu.Translation.CpuEngine?> s_engine = LastValueOption.Create<Virt.Cpu.Translation.CpuEngine?>("--cpu-engine", "native|interp",
        "hot blocks compiled to x86-64 host code with guest instructions copied 1:1 (default), or every block interpreted (docs/cpu.md)",
        s => Virt.Cpu.Cpu.ParseEngine(s) is { } e ? e : throw new UsageException(Virt.Cpu.Cpu.UnknownEngineMessage(s)));
    private static readonly Option<string[]> s_cpu = Repeatable("--cpu", "i686[,+F|-F|F=on|off...]", CpuModel.Help + "; --cpu or QEMU's -cpu", "-cpu");
    private static readonly Option<string?> s_clock = LastValueOption.Create<string?>("--clock", "auto|instructions|host",
        "guest time: instructions retired (10 ns each, host time while halted) or the host clock (default auto: instructions for Linux, host otherwise; docs/linux.md)",
        s => s is "auto" or "instructions" or "host" ? s : throw new UsageException($"--clock {s}: expected auto, instructions or host"));
    // Strings, not bools: System.CommandLine gives a bool option only the tokens true and false.
    private static readonly Option<string?> s_io = LastValueOption.Create<string?>("--io", "naive|batched",
        "batched (default): writes the device model declares batchable wait in the comm page ring and cached INs are answered from its table; naive: every access is a round trip",
        s => s is "batched" or "naive" ? s : throw new UsageException($"--io {s}: expected naive or batched"));
    private static readonly Option<string?> s_state = LastValueOption.Create<string?>("--state", "naive|cached",
        "cached (default): state the device model needs is in the comm page on each exit and its commits ride on the completion; naive: every get and set is a round trip (docs/io.md)",
        s => s is "cached" or "naive" ? s : throw new UsageException($"--state {s}: expected naive or cached"));
    private static readonly Option<int?> s_flush = LastValueOption.Create<int?>("--flush-us", "N", "longest a batched write waits before it is flushed (default 2000)", s => Int("--flush-us", s, 1, 1_000_000));
    private static readonly Option<string[]> s_dmArg = Repeatable("--dm-arg", "ARG", "pass ARG to the launched virt-dm (repeatable; e.g. --dm-arg --devices --dm-arg com1,rtc,exit)");
    private static readonly Option<bool> s_gdbDefault = new("-s") { Description = "GDB stub on tcp::1234 (as --gdb tcp::1234); gdb: target remote :1234" };
    private static readonly Option<GdbEndpoint?> s_gdb = LastValueOption.Create<GdbEndpoint?>("--gdb", "tcp::PORT",
        "GDB stub on PORT of 127.0.0.1 (also tcp:localhost:PORT; port 0 picks one and prints it): breakpoints, watchpoints, steps (docs/debugging.md); --gdb or QEMU's -gdb", s => GdbEndpoint.Parse(s), "-gdb");
    private static readonly Option<bool> s_waitForDebugger = new("-S") { Description = "the guest waits for the debugger before its first instruction" };
    private static readonly Option<string[]> s_log = Repeatable("-d", "ITEM[,ITEM]", "log int, cpu_reset, guest_errors, exits (-d help lists them)");
    private static readonly Option<string?> s_logFile = LastValueOption.Text("-D", "FILE", "write the -d log to FILE instead of stderr");
    private static readonly Option<bool> s_quiet = new("--quiet", "-q") { Description = "no progress and no report on stderr" };

    public static Command Create()
    {
        var command = new Command("run", Description)
        {
            s_memory, s_kernel, s_initrd, s_append, s_bios, s_demo, s_restore, s_incoming, s_serial, s_place, s_dm, s_restartDm, s_dmTimeout, s_stats, s_statsInterval,
            s_wakeup, s_spin, s_engine, s_cpu, s_clock, s_io, s_state, s_flush, s_dmArg, s_gdbDefault, s_gdb, s_waitForDebugger, s_log, s_logFile, s_quiet,
        };
        command.SetAction((r, _) =>
        {
            if (r.GetValue(s_log) is { } items && items.Contains("help"))
            {
                Console.Out.WriteLine(GuestLogItemNames.Help);
                return Task.FromResult(0);
            }
            return RunAsync(Read(r));
        });
        return command.WithExamples(
            "virt run --demo",
            "virt run --demo -m 1G --cpu i686,-pv --cpu-engine interp --clock host",
            "virt run --demo --dm \"virt-dm --devices com1,rtc\" --dm virt-harness --io naive --state naive",
            "virt run --demo --place com1=monitor --serial stdio",
            "virt run --demo --dm-arg --devices --dm-arg com1,rtc,exit --wakeup futex --flush-us 500",
            "virt run --demo -gdb tcp::0 -serial stdio -cpu i686,-kvm-pv -d int,guest_errors -D demo.log --stats demo.json --stats-interval 5",
            "virt run --demo -d help");
    }

    /// <summary>`virt run`'s arguments (without "run") as <see cref="RunOptions"/>.</summary>
    /// <exception cref="ArgumentException">Bad options or values.</exception>
    public static RunOptions Parse(string[] args)
    {
        RunOptions? options = null;
        Command run = Create();
        run.SetAction(r => { options = Read(r); return 0; });
        var root = new RootCommand { run };
        CommandLineProgram.InvokeAsync(root, ["run", .. args]).GetAwaiter().GetResult();
        return options ?? throw new UsageException("no options were read");
    }

    private static RunOptions Read(ParseResult r)
    {
        var o = new RunOptions();
        Virt.Cpu.Paravirt.ParavirtFeatures paravirt = o.Paravirt;
        foreach (string spec in r.GetValue(s_cpu) ?? []) paravirt = CpuModel.Parse(spec, paravirt);
        var placements = new Dictionary<string, Placement>(StringComparer.Ordinal);
        foreach (string spec in r.GetValue(s_place) ?? [])
        {
            var (device, where) = PlacementOption.Parse(spec);
            placements[device] = where;
        }
        GuestLogItems log = GuestLogItems.None;
        foreach (string list in r.GetValue(s_log) ?? []) log |= GuestLogItemNames.Parse(list);
        o = o with
        {
            MemoryBytes = r.GetValue(s_memory) ?? o.MemoryBytes,
            MemoryGiven = r.GetValue(s_memory) is not null,
            Restore = r.GetValue(s_restore),
            Incoming = r.GetValue(s_incoming),
            Kernel = r.GetValue(s_kernel),
            Initrd = r.GetValue(s_initrd)?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [],
            Append = r.GetValue(s_append) ?? "",
            Bios = r.GetValue(s_bios),
            Serial = r.GetValue(s_serial) ?? o.Serial,
            Placements = placements,
            DeviceModels = r.GetValue(s_dm) ?? [],
            RestartDeviceModel = r.GetValue(s_restartDm),
            DeviceModelTimeoutSeconds = r.GetValue(s_dmTimeout) ?? o.DeviceModelTimeoutSeconds,
            StatsFile = r.GetValue(s_stats),
            StatsIntervalMillis = r.GetValue(s_statsInterval) ?? o.StatsIntervalMillis,
            Demo = r.GetValue(s_demo),
            Wake = r.GetValue(s_wakeup) ?? o.Wake,
            SpinMicros = r.GetValue(s_spin) ?? o.SpinMicros,
            CpuEngine = r.GetValue(s_engine) ?? o.CpuEngine,
            Paravirt = paravirt,
            Clock = r.GetValue(s_clock) ?? o.Clock,
            Quiet = r.GetValue(s_quiet),
            IoBatched = r.GetValue(s_io) is { } io ? io == "batched" : o.IoBatched,
            StateCached = r.GetValue(s_state) is { } state ? state == "cached" : o.StateCached,
            FlushMicros = r.GetValue(s_flush) ?? o.FlushMicros,
            DeviceModelArgs = r.GetValue(s_dmArg) ?? [],
            Gdb = r.GetValue(s_gdb) ?? (r.GetValue(s_gdbDefault) ? GdbEndpoint.Default : null),
            WaitForDebugger = r.GetValue(s_waitForDebugger),
            LogItems = log,
            LogFile = r.GetValue(s_logFile),
        };
        PlacementOption.CheckDeviceModelArgs(o.Placements, o.DeviceModelArgs);
        int images = (o.Kernel is null ? 0 : 1) + (o.Bios is null ? 0 : 1) + (o.Demo ? 1 : 0);
        if (o.Incoming)
        {
            // The snapshot it waits for is the whole machine: nothing is loaded into it now either.
            if (o.Restore is not null) throw new UsageException("--incoming waits for a snapshot (virt restore VM FILE); --restore loads one now: give one of them");
            if (images > 0 || o.Initrd.Count > 0 || o.Append.Length > 0)
                throw new UsageException("--incoming waits for a saved machine: it takes no --kernel, --bios, --demo, --initrd or --append");
            if (o.Com1InFirmware) throw new UsageException("--incoming: a saved machine's COM1 runs in a device model or in the monitor, not --place com1=firmware");
            if (o.WaitForDebugger) throw new UsageException("--incoming: -S waits for a debugger before the first instruction; a restored guest has run already");
            return o;
        }
        if (o.Restore is not null)
        {
            // The snapshot is the whole machine: nothing is loaded into it.
            if (images > 0 || o.Initrd.Count > 0 || o.Append.Length > 0)
                throw new UsageException("--restore resumes a saved machine: it takes no --kernel, --bios, --demo, --initrd or --append");
            if (o.Placements.Count > 0)
                throw new UsageException("--restore resumes a saved machine: it takes no --place (each device runs where it ran when saved)");
            return o;
        }
        if (images == 0) throw new UsageException("nothing to run: give --kernel FILE, --bios ROM or --demo (virt run --help lists the options)");
        if (o.Demo && o.Kernel is not null) throw new UsageException("--demo and --kernel exclude each other");
        if (o.Initrd.Count > 0 && o.Kernel is null) throw new UsageException("--initrd needs --kernel");
        if (r.GetResult(s_statsInterval) is not null && o.StatsFile is null) throw new UsageException("--stats-interval needs --stats FILE.json");
        if (o.WaitForDebugger && o.Gdb is null) throw new UsageException("-S waits for a debugger: give -s or --gdb tcp::PORT too");
        if (o.LogFile is not null && o.LogItems == GuestLogItems.None) throw new UsageException("-D names the log file of -d: give -d ITEM too");
        return o;
    }

    public static async Task<int> RunAsync(RunOptions options)
    {
        // The machine comes with the snapshot `virt restore` loads into it (Snapshot/IncomingRestore).
        if (options.Incoming) return await VirtualMachine.RunAsync(options, new GuestImages(null, "", [], null));
        if (options.Restore is { } path)
        {
            // Every check of the file but RAM's checksum (which the copy makes) runs here, before anything is created.
            Snapshot.SnapshotFile snapshot;
            try { snapshot = Snapshot.SnapshotFile.Open(path, options.MemoryGiven ? options.MemoryBytes : null); }
            catch (Snapshot.SnapshotException e)
            {
                Console.Error.WriteLine($"virt: {e.Message}");
                return ExitStatus.BadUsage;
            }
            using (snapshot)
                return await VirtualMachine.RunAsync(options with { MemoryBytes = snapshot.RamSize }, new GuestImages(null, "", [], null), snapshot);
        }
        GuestImages images;
        try
        {
            images = GuestImages.Read(options);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"virt: {e.Message}");
            return ExitStatus.BadUsage;
        }
        return await VirtualMachine.RunAsync(options, images);
    }

    private static Option<string[]> Repeatable(string name, string helpName, string description, params string[] aliases) =>
        new(name, aliases) { Description = description, HelpName = helpName, AllowMultipleArgumentsPerToken = false };

    private static WakeMode Wake(string s) => s switch
    {
        "spin" => WakeMode.Spin,
        "spin-futex" => WakeMode.SpinFutex,
        "futex" => WakeMode.Futex,
        "adaptive" => WakeMode.Adaptive,
        _ => throw new UsageException($"--wakeup {s}: expected adaptive, spin, spin-futex or futex"),
    };

    private static int Int(string option, string s, int min, int max) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v
            : throw new UsageException($"{option} {s}: expected a number from {min} to {max}");
}
