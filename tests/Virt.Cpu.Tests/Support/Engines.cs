using Virt.Cpu.Translation;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// The execution engines a behaviour test runs on: the interpreter, and the native backend
/// compiling every block at its first execution (threshold 0, on the VCPU's thread, so the run is
/// reproducible).
/// Use as <c>[Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]</c>.
/// </summary>
public static class Engines
{
    public const string Interpreter = "interpreter", Native = "native";

    public static TheoryData<string> All => new() { Interpreter, Native };

    public static void Use(TestMachine m, string engine)
    {
        switch (engine)
        {
            case Interpreter:
                m.Cpu.Engine = CpuEngine.Interpreter;
                break;
            case Native:
                m.Cpu.Engine = CpuEngine.Native;
                m.Cpu.TranslationThreshold = 0;
                break;
            default:
                throw new ArgumentException($"unknown engine {engine}", nameof(engine));
        }
    }

    /// <summary>The CPU's engine for a test's engine name.</summary>
    public static CpuEngine Of(string engine) => engine switch
    {
        Interpreter => CpuEngine.Interpreter,
        Native => CpuEngine.Native,
        _ => throw new ArgumentException($"unknown engine {engine}", nameof(engine)),
    };
}
