namespace Virt.Shared.Wakeup;

/// <summary>How an adaptive waiter spends its budget before it sleeps (AdaptiveSpin.Plan, docs/wakeup.md).</summary>
public enum WaitStyle : byte
{
    /// <summary>FUTEX_WAIT at once.</summary>
    Sleep,
    /// <summary>Poll with PAUSE: the peer runs on another CPU.</summary>
    Spin,
    /// <summary>Poll with sched_yield between polls: the peer runs on our CPU, and a yield lets it run now, where a sleep would cost it a futex wake-up.</summary>
    Yield,
}
