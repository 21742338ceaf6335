using System.CommandLine.Parsing;

namespace Virt.CommandLine;

/// <summary>
/// Turns a project value parser (a function that throws <see cref="ArgumentException"/> with a clear
/// message) into System.CommandLine's custom parser, so its message becomes a parse error like any other.
/// </summary>
public static class ValueParser
{
    public static Func<ArgumentResult, T?> From<T>(Func<string, T> parse) => result =>
    {
        string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        try
        {
            return parse(token);
        }
        catch (ArgumentException e)
        {
            result.AddError(e.Message);
            return default;
        }
    };
}
