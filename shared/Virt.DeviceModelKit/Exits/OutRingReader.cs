using Virt.Shared.Abi;

namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// The device model's side of the OUT batch ring (docs/abi.md): the writes the monitor queued
/// without waiting, performed in guest order before the exit that carries them is served, each
/// confirmed in Drained right after its side effect, so a replacement after a kill is handed only
/// the slots this process never performed (exactly-once output).
/// </summary>
public static class OutRingReader
{
    /// <summary>
    /// Performs the slots not yet drained through <paramref name="handler"/> (the caller holds its lock).
    /// Returns the first stop value a write asked for, or null.
    /// </summary>
    public static uint? Drain(ref CommPage page, IExitHandler handler, OutputConfirmation confirmation)
    {
        uint pending = Math.Min(page.OutRing.Pending, CommPageLayout.OutRingSlots);
        uint done = Math.Min(page.OutRing.Drained, pending);
        if (done == pending) return null;
        uint? stop = null;
        for (uint i = done; i < pending; i++)
        {
            confirmation.BeginSlot(ref page, i);
            stop ??= handler.WriteBatched(in CommPageAccess.RingSlot(ref page, (int)i));
            Volatile.Write(ref page.OutRing.Drained, i + 1);
        }
        confirmation.End();
        page.DeviceCounters.BatchedWritesDrained += pending - done;
        page.OutRing.Drained = pending;
        return stop;
    }
}
