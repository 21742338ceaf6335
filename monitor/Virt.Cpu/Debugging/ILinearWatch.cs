namespace Virt.Cpu.Debugging;

/// <summary>
/// Data watchpoints on linear addresses, for a debugger in the monitor (the GDB stub). The CPU keeps
/// every page this watch names out of its TLB, so each data access to it takes the slow path, which
/// reports it here; pages nobody watches keep the fast path, and with no watch set the only cost is
/// one null check on the slow path.
/// </summary>
public interface ILinearWatch
{
    /// <summary>True when some watched range touches linear page <paramref name="linearPage"/> (address &gt;&gt; 12).</summary>
    bool WatchesPage(uint linearPage);

    /// <summary>
    /// A data access of <paramref name="size"/> bytes at <paramref name="linear"/> that took the slow
    /// path: every access to a watched page does, an access elsewhere only on a TLB miss, so the watch
    /// compares the address with its ranges. Instruction fetches are not reported.
    /// </summary>
    void Accessed(uint linear, int size, bool write);
}
