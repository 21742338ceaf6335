using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Virt.CommandLine;

/// <summary>System.CommandLine's help, then the command's <see cref="CommandExamples"/> under "Examples:".</summary>
internal sealed class HelpWithExamplesAction(HelpAction help) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        int status = help.Invoke(parseResult);
        IReadOnlyList<string> examples = CommandExamples.Of(parseResult.CommandResult.Command);
        if (examples.Count > 0)
        {
            Console.Out.WriteLine("Examples:");
            foreach (string e in examples) Console.Out.WriteLine($"  {e}");
            Console.Out.WriteLine();
        }
        return status;
    }
}
