using System.Globalization;
using Virt.Bench;
using Virt.Cpu.Translation;

// Guest MIPS of the interpreter beside QEMU TCG on the same Multiboot guests, in one run.
// Usage: dotnet run -c Release --project bench/Virt.Bench [-- --quick] [--reps N]
bool quick = args.Contains("--quick");
int reps = quick ? 3 : 5;
int ri = Array.IndexOf(args, "--reps");
if (ri >= 0 && ri + 1 < args.Length) reps = int.Parse(args[ri + 1], CultureInfo.InvariantCulture);

CpuEngine[] Engines = [CpuEngine.Native, CpuEngine.Interpreter];

string kernelPath = GuestImage.Build("bench");
byte[] kernel = File.ReadAllBytes(kernelPath);
Console.WriteLine($"guest: {kernelPath}");
Console.WriteLine($"{(quick ? "quick" : "full")} run, median of {reps}; QEMU: {QemuRun.Binary} -accel tcg");
Console.WriteLine("ours: the native backend (x86-64 host code) and the interpreter alone, timed in the same run");
Console.WriteLine();

// Warm up our code (tiering, the native backend's own code) on a short run of every workload before timing.
foreach (var w in Workload.All(quick: true))
    foreach (var engine in Engines) InterpreterRun.Execute(kernel, w.CommandLine(w.OurIterations / 10), engine);

var rows = new List<string[]>();
foreach (var w in Workload.All(quick))
{
    // Instructions per iteration, exactly, from the interpreter: the guest retires a fixed count per iteration.
    var baseline = InterpreterRun.Execute(kernel, w.CommandLine(w.BaselineIterations), CpuEngine.Interpreter);
    var ours = Engines.ToDictionary(e => e, _ => new List<double>());
    long ourInstructions = 0;
    string ourOutput = "";
    string translation = "";
    for (int i = 0; i < reps; i++)
    {
        foreach (var engine in Engines)
        {
            var r = InterpreterRun.Execute(kernel, w.CommandLine(w.OurIterations), engine);
            if (ourInstructions != 0 && r.Instructions != ourInstructions)
                throw new InvalidOperationException($"{w.Mode}: the engines retired different instruction counts ({ourInstructions} and {r.Instructions})");
            ourInstructions = r.Instructions;
            ourOutput = r.Output;
            if (engine == CpuEngine.Native) translation = $"{r.Translated} blocks translated in {r.TranslationTime.TotalMilliseconds:F1} ms";
            ours[engine].Add(r.Instructions / r.Elapsed.TotalSeconds / 1e6);
        }
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

    double na = Median(ours[CpuEngine.Native]), it = Median(ours[CpuEngine.Interpreter]), qemuMedian = Median(qemu);
    string Range(List<double> xs) => $"{xs.Min():F0}-{xs.Max():F0}";
    rows.Add([w.Mode, w.Description, perIteration.ToString("0.###", CultureInfo.InvariantCulture),
        $"{na:F0}", Range(ours[CpuEngine.Native]), $"{it:F0}", Range(ours[CpuEngine.Interpreter]),
        $"{qemuMedian:F0}", Range(qemu), $"{na / qemuMedian:F3}", $"{it / qemuMedian:F3}", $"{na / it:F1}"]);
    string List(List<double> xs) => string.Join(' ', xs.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)));
    Console.Error.WriteLine($"  {w.Mode}: native {List(ours[CpuEngine.Native])} M/s; interpreter {List(ours[CpuEngine.Interpreter])} M/s; " +
        $"qemu {List(qemu)} M/s; ours printed: {ourOutput.Trim()}; {translation}");
}

string[] header = ["mode", "workload", "instr/iter", "native MIPS", "range", "interpreter MIPS", "range", "QEMU MIPS", "QEMU range", "native/QEMU", "interp./QEMU", "native/interp."];
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

