namespace Virt.Shared.Wakeup;

/// <summary>How one adaptive wait ended: what <see cref="AdaptiveSpin"/> learns from besides its length.</summary>
public enum WaitOutcome : byte
{
    /// <summary>It slept at once (no spin budget).</summary>
    Slept,
    /// <summary>The peer answered while it spun.</summary>
    Spun,
    /// <summary>It spun its whole budget, then had to sleep: the peer could not run meanwhile.</summary>
    SpunThenSlept,
}
