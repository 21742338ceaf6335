namespace Virt.Monitor.Top;

/// <summary>The order of the rows in each section of `virt top` (key s cycles, r / t / n pick one).</summary>
public enum TopSort
{
    /// <summary>Busiest now first (per second over the last interval).</summary>
    Rate,
    /// <summary>Largest since the guest started first.</summary>
    Total,
    /// <summary>By name, as a fixed place to look.</summary>
    Name,
}
