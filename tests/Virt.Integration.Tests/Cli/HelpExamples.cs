using System.Text;

namespace Virt.Integration.Tests.Cli;

/// <summary>The examples a help text ends with (the indented lines under "Examples:"), split into words as a shell would.</summary>
public static class HelpExamples
{
    public static IReadOnlyList<string> In(string help)
    {
        var examples = new List<string>();
        bool inExamples = false;
        foreach (string line in help.Split('\n').Select(l => l.TrimEnd('\r')))
        {
            if (line == "Examples:") inExamples = true;
            else if (inExamples && line.StartsWith("  ", StringComparison.Ordinal)) examples.Add(line.Trim());
            else if (inExamples) inExamples = false;
        }
        return examples;
    }

    /// <summary>Words separated by spaces; "double quotes" hold spaces, as the examples quote a --dm with its arguments.</summary>
    public static string[] Words(string commandLine)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in commandLine)
        {
            if (c == '"') { quoted = !quoted; any = true; }
            else if (c == ' ' && !quoted)
            {
                if (any) words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else { word.Append(c); any = true; }
        }
        if (quoted) throw new FormatException($"unbalanced quotes in: {commandLine}");
        if (any) words.Add(word.ToString());
        return [.. words];
    }
}
