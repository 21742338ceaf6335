using Virt.Shared.Abi;

namespace Virt.Monitor.Exits;

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
    private ulong Lose(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count)
    {
        foreach (OutRingWriter.Entry w in _ring.TakePending())
            Reissue(w.Space == 0 ? ExitReason.PortIo : ExitReason.Mmio, w.Address, w.Size, ExitDirection.Write, w.Value, ExitFlags.None, 1);
        if (reason == ExitReason.Flush || (flags & ExitFlags.Assist) != 0) return Ones(size);
        return Reissue(reason, address, size, direction, data, flags, count);
    }

    private ulong Reissue(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count)
    {
        ulong ones = Ones(size);
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
