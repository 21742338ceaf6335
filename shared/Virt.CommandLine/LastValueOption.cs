using System.CommandLine;

namespace Virt.CommandLine;

/// <summary>
/// An option that takes one value and, given again, keeps the last, as QEMU's options and the project's
/// earlier parsers do (System.CommandLine's own single-value options refuse a repeat).
/// </summary>
public static class LastValueOption
{
    public static Option<T> Create<T>(string name, string helpName, string description, Func<string, T> parse, params string[] aliases) =>
        new(name, aliases)
        {
            Description = description,
            HelpName = helpName,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
            CustomParser = ValueParser.From(parse),
        };

    public static Option<string?> Text(string name, string helpName, string description, params string[] aliases) =>
        Create<string?>(name, helpName, description, s => s, aliases);
}
