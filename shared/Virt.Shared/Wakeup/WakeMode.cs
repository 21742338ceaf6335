namespace Virt.Shared.Wakeup;

/// <summary>How one side of the comm page wakes the other (see docs/wakeup.md for the measurements).</summary>
public enum WakeMode : byte
{
    /// <summary>The waiter busy-polls the doorbell word: fastest, burns a core while waiting.</summary>
    Spin = 1,
    /// <summary>Poll for a short while, then sleep in FUTEX_WAIT on the doorbell word.</summary>
    SpinFutex = 2,
    /// <summary>Sleep in FUTEX_WAIT at once.</summary>
    Futex = 3,
    /// <summary>
    /// Spin for a learned, bounded time while the peer is known to be running, then sleep as Futex
    /// (AdaptiveSpin). A reader that predates it treats the value as Futex: the two interoperate.
    /// </summary>
    Adaptive = 5,
    /// <summary>A byte over a Unix socket per wake-up (benchmark only: the classic baseline).</summary>
    Socket = 4,
}
