namespace Virt.Monitor.Logging;

/// <summary>The -d list: parse and help.</summary>
public static class GuestLogItemNames
{
    private static readonly (string Name, GuestLogItems Item, string Help)[] s_items =
    [
        ("int", GuestLogItems.Int, "interrupts and exceptions delivered (vector, error code, CS:EIP, CR2)"),
        ("cpu_reset", GuestLogItems.CpuReset, "the CPU's start state, resets and triple faults"),
        ("guest_errors", GuestLogItems.GuestErrors, "accesses to unclaimed ports and MMIO, unknown MSRs"),
        ("exits", GuestLogItems.Exits, "every port and MMIO exit with its value and the device that answered"),
    ];

    public static string Help { get; } =
        "Log items (-d ITEM[,ITEM...], to stderr or the -D file):\n"
        + string.Join("\n", s_items.Select(i => $"  {i.Name,-13} {i.Help}"))
        + "\n  all           every item above";

    public static string Name(GuestLogItems item) => s_items.First(i => i.Item == item).Name;

    /// <summary>"int,exits" to flags; throws <see cref="ArgumentException"/> naming the unknown item.</summary>
    public static GuestLogItems Parse(string list)
    {
        var items = GuestLogItems.None;
        foreach (string name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (name == "all")
            {
                foreach (var i in s_items) items |= i.Item;
                continue;
            }
            var found = s_items.FirstOrDefault(i => i.Name == name);
            if (found.Name is null) throw new ArgumentException($"-d {list}: unknown item '{name}' (-d help lists them)");
            items |= found.Item;
        }
        if (items == GuestLogItems.None) throw new ArgumentException($"-d {list}: no item given (-d help lists them)");
        return items;
    }
}
