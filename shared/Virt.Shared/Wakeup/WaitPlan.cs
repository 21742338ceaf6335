namespace Virt.Shared.Wakeup;

/// <summary>One adaptive wait's plan: how to wait (<see cref="Style"/>) and for how long at most before sleeping (ticks; 0 with Sleep).</summary>
public readonly record struct WaitPlan(WaitStyle Style, long Ticks)
{
    public static WaitPlan Sleep => new(WaitStyle.Sleep, 0);
}
