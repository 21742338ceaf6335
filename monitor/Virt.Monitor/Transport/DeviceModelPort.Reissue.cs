using Virt.Shared.Abi;
using Virt.Shared.Routing;

namespace Virt.Monitor.Transport;

/// <summary>Called on the VCPU thread with an exit this port's device model failed to complete; returns the port that answers it now, or null (unclaimed).</summary>
public delegate DeviceModelPort? DeviceModelLostHandler(DeviceModelPort failed, InFlightExit exit);

public sealed unsafe partial class DeviceModelPort
{
    /// <summary>
    /// What to do with an exit when the device model died or hung. Unset: the exit completes as
    /// "no device". Set (the VM): the handler keeps the VCPU paused inside the instruction until a
    /// new device model has taken over, then names the port to re-issue the exit to. Nothing of the
    /// guest is lost: the instruction has not retired and its operands are in <see cref="InFlightExit"/>.
    /// </summary>
    public DeviceModelLostHandler? Lost { get; set; }

    /// <summary>
    /// An exit this device model will never complete. The batched writes still in its OUT ring were
    /// never confirmed, so they go to the replacement first, in guest order (at least once: a model
    /// killed while draining may have performed some; an orderly detach drains them instead). A
    /// flush has nothing more to carry, and an assisted string chunk is declined so the engine falls
    /// back to the data page, whose exit is re-issued like any other.
    /// </summary>
    private ulong Lose(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count, int confirmed = 0)
    {
        foreach (OutRingWriter.Entry w in _ring.TakePending(confirmed))
            Reissue(w.Space == 0 ? ExitReason.PortIo : ExitReason.Mmio, w.Address, w.Size, ExitDirection.Write, w.Value, ExitFlags.None, 1);
        if (reason == ExitReason.Flush || (flags & ExitFlags.Assist) != 0) return IoSize.AllOnes(size);
        return Reissue(reason, address, size, direction, data, flags, count);
    }

    /// <summary>
    /// The device model died or hung inside a published exit. What it confirmed is not done again
    /// (exactly once, as vhost-user's inflight tracking): ring slots below Drained, which a model
    /// advances slot by slot as it performs them, and the exit itself when its Status says it was
    /// served (Ok or Unhandled, before the doorbell it never rang; virt-dm stores both right before the
    /// write(2) of console output, docs/abi.md "After a failure"). Only the rest goes to the replacement.
    /// The guest still waits for a replacement either way.
    /// </summary>
    private ulong LoseInFlight(ref CommPage page, uint seq, ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count)
    {
        int confirmed = (int)Math.Min(Volatile.Read(ref page.OutRing.Drained), (uint)_ring.Pending);
        uint status = Volatile.Read(ref page.Exit.Status);
        bool served = Volatile.Read(ref page.Exit.Seq) == seq && status is (uint)CompletionStatus.Ok or (uint)CompletionStatus.Unhandled
            && reason != ExitReason.Flush && (flags & ExitFlags.Assist) == 0 && page.Header.StateCommit == 0;
        if (!served) return Lose(reason, address, size, direction, data, flags, count, confirmed);
        ulong ones = IoSize.AllOnes(size);
        ulong result = status == (uint)CompletionStatus.Ok && direction == ExitDirection.Read && (flags & ExitFlags.String) == 0 ? page.Exit.Data & ones : ones;
        OutRingWriter.Entry[] rest = _ring.TakePending(confirmed);
        if (rest.Length == 0)
        {
            // Nothing to hand over: hold the guest as for any failure, and finish this exit with what the dead model gave.
            Lost?.Invoke(this, new InFlightExit(reason, address, size, direction, data, flags, count));
            return result;
        }
        foreach (OutRingWriter.Entry w in rest)
            Reissue(w.Space == 0 ? ExitReason.PortIo : ExitReason.Mmio, w.Address, w.Size, ExitDirection.Write, w.Value, ExitFlags.None, 1);
        return result;
    }

    private ulong Reissue(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count)
    {
        ulong ones = IoSize.AllOnes(size);
        bool isString = (flags & ExitFlags.String) != 0;
        int bytes = isString ? (int)Math.Min((ulong)count * (ulong)size, CommPageLayout.PageSize) : 0;
        Span<byte> page = CommPageAccess.DataPage(_region, _vcpu);
        DeviceModelPort? next = Lost?.Invoke(this, new InFlightExit(reason, address, size, direction, data, flags, count));
        if (next is null || next == this)
        {
            if (isString && direction == ExitDirection.Read) page[..bytes].Fill(0xFF);
            return ones;
        }
        // String data travel in the data page: move them to the new device model's page and back.
        Span<byte> nextPage = CommPageAccess.DataPage(next._region, next._vcpu);
        if (isString) page[..bytes].CopyTo(nextPage);
        ulong result = next.Exchange(reason, address, size, direction, data, flags, count);
        if (isString && direction == ExitDirection.Read) nextPage[..bytes].CopyTo(page);
        if (next.StopValue is { } stop && StopValue is null) StopValue = stop;
        return result;
    }
}
