using Virt.Shared.Abi;

namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// Exactly-once output (docs/abi.md "After a failure"): while an exit or a batched write is being
/// performed, the comm page to confirm it in. A console calls <see cref="Confirm"/> right before
/// each byte's write, so a process killed after it has already told the monitor not to replay the
/// access. Set and used under the exit handler's lock.
/// </summary>
public sealed unsafe class OutputConfirmation
{
    private const uint TheExit = uint.MaxValue;
    private CommPage* _page;
    private uint _slot;

    /// <summary>
    /// Visible output for the access being performed is about to be written: confirm the access in the
    /// comm page now (the ring slot's Drained, or the exit's Status = Ok). Nothing when no access is in flight.
    /// </summary>
    public void Confirm()
    {
        CommPage* page = _page;
        if (page == null) return;
        if (_slot == TheExit) Volatile.Write(ref page->Exit.Status, (uint)CompletionStatus.Ok);
        else Volatile.Write(ref page->OutRing.Drained, _slot + 1);
    }

    /// <summary>The exit in <paramref name="page"/> is being dispatched (until <see cref="End"/>).</summary>
    public void BeginExit(ref CommPage page) => Begin(ref page, TheExit);

    /// <summary>Ring slot <paramref name="slot"/> of <paramref name="page"/> is being performed.</summary>
    public void BeginSlot(ref CommPage page, uint slot) => Begin(ref page, slot);

    public void End() => _page = null;

    // The comm page lives in shared memory, never moved by the GC: a pointer to it is stable.
    private void Begin(ref CommPage page, uint slot)
    {
        _page = (CommPage*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref page);
        _slot = slot;
    }
}
