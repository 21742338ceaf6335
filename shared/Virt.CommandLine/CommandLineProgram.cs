using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace Virt.CommandLine;

/// <summary>
/// Runs a command tree the way every program of the project does: flags are taken as written (no POSIX
/// bundling, so QEMU's -s, -S, -gdb and -kernel stay whole; no @response files), `-h`/`--help` on any command
/// prints its help and examples with status 0, and bad input is a <see cref="UsageException"/>, which the
/// program's Main turns into one line on stderr and <see cref="BadUsage"/>.
/// </summary>
public static class CommandLineProgram
{
    /// <summary>The status of bad options or values, in every program of the project.</summary>
    public const int BadUsage = 2;

    private static readonly ParserConfiguration s_parsing = new() { EnablePosixBundling = false, ResponseFileTokenReplacer = null };

    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/> and runs the chosen command's action.
    /// Exceptions of the action are the caller's: System.CommandLine's handler would print a stack trace.
    /// </summary>
    /// <exception cref="UsageException">The arguments do not fit the commands.</exception>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        foreach (HelpOption help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction plain) help.Action = new HelpWithExamplesAction(plain);
        }
        ParseResult result = root.Parse(args, s_parsing);
        if (result.Errors.Count > 0 && result.Action is not HelpWithExamplesAction)
            throw new UsageException($"{string.Join(" ", result.Errors.Select(e => e.Message))} ({CommandPath(result.CommandResult)} --help lists the options)");
        return await result.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>"virt run", "virt bench io": the words that name a command, for the hint after an error.</summary>
    public static string CommandPath(CommandResult command)
    {
        var words = new List<string>();
        for (CommandResult? c = command; c is not null; c = c.Parent as CommandResult)
            words.Insert(0, c.Command is RootCommand ? RootCommand.ExecutableName : c.Command.Name);
        return string.Join(' ', words);
    }
}
