using Virt.Cpu.Translation;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// The execution engines a behaviour test runs on: the interpreter, the IL translator compiling
/// every block at its first execution (threshold 0, synchronously, so the run is reproducible), and
/// the native backend, also at the first execution.
/// Use as <c>[Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]</c>.
/// </summary>
public static class Engines
{
    public const string Interpreter = "interpreter", Translator = "translator", Native = "native";

    public static TheoryData<string> All => new() { Interpreter, Translator, Native };

    public static void Use(TestMachine m, string engine)
    {
        switch (engine)
        {
            case Interpreter:
                m.Cpu.Engine = CpuEngine.Interpreter;
                break;
            case Translator:
                m.Cpu.Engine = CpuEngine.Translator;
                m.Cpu.TranslationThreshold = 0;
                break;
            case Native:
                m.Cpu.Engine = CpuEngine.Native;
                m.Cpu.TranslationThreshold = 0;
                break;
            default:
                throw new ArgumentException($"unknown engine {engine}", nameof(engine));
        }
    }
}
