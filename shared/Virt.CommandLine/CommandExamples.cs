using System.CommandLine;
using System.Runtime.CompilerServices;

namespace Virt.CommandLine;

/// <summary>
/// The examples a command's help ends with, each a whole command line a user can paste. The integration
/// tests read them from the help output and run every one, so they must work as written.
/// </summary>
public static class CommandExamples
{
    private static readonly ConditionalWeakTable<Command, IReadOnlyList<string>> s_examples = [];

    /// <summary>Gives <paramref name="command"/> its examples (replacing any before).</summary>
    public static T WithExamples<T>(this T command, params string[] examples) where T : Command
    {
        s_examples.AddOrUpdate(command, examples);
        return command;
    }

    public static IReadOnlyList<string> Of(Command command) => s_examples.TryGetValue(command, out IReadOnlyList<string>? e) ? e : [];
}
