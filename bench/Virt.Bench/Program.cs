using System.Globalization;
using Virt.Bench;

// Guest MIPS of the interpreter beside QEMU TCG on the same Multiboot guests, in one run.
// Usage: dotnet run -c Release --project bench/Virt.Bench [-- --quick] [--reps N]
bool quick = args.Contains("--quick");
int reps = quick ? 3 : 5;
int ri = Array.IndexOf(args, "--reps");
if (ri >= 0 && ri + 1 < args.Length) reps = int.Parse(args[ri + 1], CultureInfo.InvariantCulture);

string kernelPath = GuestImage.Build("bench");
byte[] kernel = File.ReadAllBytes(kernelPath);
Console.WriteLine($"guest: {kernelPath}");
Console.WriteLine($"{(quick ? "quick" : "full")} run, median of {reps}; QEMU: {QemuRun.Binary} -accel tcg; our engine: {Virt.Cpu.Cpu.EngineFromEnvironment()} (VIRT_CPU_ENGINE=interp for the interpreter alone)");
Console.WriteLine();

// Warm up the interpreter's code (tiering) on a short run of every workload before timing.
foreach (var w in Workload.All(quick: true)) InterpreterRun.Execute(kernel, w.CommandLine(w.OurIterations / 10));

var rows = new List<string[]>();
foreach (var w in Workload.All(quick))
{
    // Instructions per iteration, exactly, from the interpreter: the guest retires a fixed count per iteration.
    var baseline = InterpreterRun.Execute(kernel, w.CommandLine(w.BaselineIterations));
    var ours = new List<double>();
    long ourInstructions = 0;
    string ourOutput = "";
    string translation = "";
    for (int i = 0; i < reps; i++)
    {
        var r = InterpreterRun.Execute(kernel, w.CommandLine(w.OurIterations));
        ourInstructions = r.Instructions;
        ourOutput = r.Output;
        translation = $"{r.Translated} blocks translated in {r.TranslationTime.TotalMilliseconds:F1} ms";
        ours.Add(r.Instructions / r.Elapsed.TotalSeconds / 1e6);
    }
    double perIteration = (double)(ourInstructions - baseline.Instructions) / (w.OurIterations - w.BaselineIterations);
    double qemuWork = perIteration * (w.QemuIterations - w.BaselineIterations);

    // QEMU: whole-process wall time of the real run minus that of the baseline run, interleaved.
    var qemu = new List<double>();
    string qemuOutput = "";
    for (int i = 0; i < reps; i++)
    {
        var b = QemuRun.Execute(kernelPath, w.CommandLine(w.BaselineIterations));
        var r = QemuRun.Execute(kernelPath, w.CommandLine(w.QemuIterations));
        qemuOutput = r.Output;
        double dt = (r.Elapsed - b.Elapsed).TotalSeconds;
        qemu.Add(dt > 0 ? qemuWork / dt / 1e6 : double.NaN);
    }
    if (!qemuOutput.Contains($"iters={w.QemuIterations} result=", StringComparison.Ordinal))
        throw new InvalidOperationException($"QEMU run of {w.Mode} printed no result: {qemuOutput}");

    double ourMedian = Median(ours), qemuMedian = Median(qemu);
    rows.Add([w.Mode, w.Description, perIteration.ToString("0.###", CultureInfo.InvariantCulture),
        $"{ourMedian:F0}", $"{ours.Min():F0}-{ours.Max():F0}", $"{qemuMedian:F0}", $"{qemu.Min():F0}-{qemu.Max():F0}", $"{ourMedian / qemuMedian:F3}"]);
    Console.Error.WriteLine($"  {w.Mode}: ours {string.Join(' ', ours.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} M/s; " +
        $"qemu {string.Join(' ', qemu.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)))} M/s; ours printed: {ourOutput.Trim()}; {translation}");
}

string[] header = ["mode", "workload", "instr/iter", "ours MIPS", "ours range", "QEMU MIPS", "QEMU range", "ours/QEMU"];
int[] widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
Console.WriteLine(string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i]))));
Console.WriteLine(string.Join("-|-", widths.Select(wd => new string('-', wd))));
foreach (var r in rows) Console.WriteLine(string.Join(" | ", r.Select((c, i) => c.PadRight(widths[i]))));
Console.WriteLine();
Console.WriteLine("targets: register loop >= 500 MIPS, load/store with paging >= 300 MIPS");
return 0;

static double Median(List<double> xs)
{
    var s = xs.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}
