namespace Virt.Shared.Abi;

/// <summary>
/// The one mapping between a <see cref="Refusal"/> and its documented name ("platform-event", the
/// `counted as` column of docs/abi.md): the keys of the `refused` object in `--stats` JSON and of
/// the report's "refused from the comm page" line, which tests and scripts read.
/// </summary>
public static class RefusalNames
{
    private static readonly string[] s_names =
    [
        "completion-seq", "status", "platform-event", "exit-record-changed", "data-width", "state-wanted",
        "need-state", "state-commit", "assist-commit", "ring-drained", "in-table-count", "state-values", "irq-lines",
    ];

    /// <summary>How many kinds of refusal there are (the enum's values are 0 to Count - 1).</summary>
    public static int Count => s_names.Length;

    public static string Name(Refusal r) => (uint)r < (uint)s_names.Length ? s_names[(int)r] : throw new ArgumentOutOfRangeException(nameof(r), r, null);

    public static bool TryParse(string name, out Refusal r)
    {
        int i = Array.IndexOf(s_names, name);
        r = (Refusal)Math.Max(i, 0);
        return i >= 0;
    }
}
