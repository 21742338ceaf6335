using Virt.Monitor.Routing;
using Virt.Shared.Abi;

namespace Virt.Monitor.Attachment;

/// <summary>
/// Who is attached: every device model from Hello until the VM ends (retired ones stay, for the
/// report and `virt list`), the ones exits are routed to, and what the VCPU thread asks of them
/// between slices (IRQ lines, batched writes, a stall, a stop). The VCPU-thread calls run every
/// slice and allocate nothing. Comm regions are unmapped under the roster's lock, the lock
/// <see cref="Kick"/> takes, so no thread touches a region as it goes.
/// </summary>
public sealed class DeviceModelRoster : IDisposable
{
    private readonly List<DeviceModelAttachment> _all = new();
    private readonly ManualResetEventSlim _haltWake = new();
    private volatile DeviceModelAttachment[] _routed = [];
    // Retired failed models whose comm regions the VCPU thread unmaps at its next checkpoint (ReleaseRetired).
    private readonly List<DeviceModelAttachment> _releaseLater = new();
    private int _releasePending;

    /// <summary>The device models exits are routed to now (read by the VCPU thread).</summary>
    public DeviceModelAttachment[] Routed => _routed;

    public DeviceModelAttachment[] All
    {
        get { lock (_all) return _all.ToArray(); }
    }

    public void Add(DeviceModelAttachment att)
    {
        lock (_all) _all.Add(att);
    }

    /// <summary>A handshake that never reached Ready: out of the roster, its region unmapped (nothing was ever routed to it).</summary>
    public void Forget(DeviceModelAttachment att)
    {
        lock (_all)
        {
            _all.Remove(att);
            att.Comm.Dispose();
        }
    }

    /// <summary>(handshaking, not retired): what admission limits count.</summary>
    public (int Handshaking, int Live) Count()
    {
        lock (_all)
        {
            int handshaking = 0, live = 0;
            foreach (DeviceModelAttachment a in _all)
            {
                if (a.Phase == AttachmentPhase.Handshaking) handshaking++;
                if (a.Phase != AttachmentPhase.Retired) live++;
            }
            return (handshaking, live);
        }
    }

    /// <summary>Routes the claims of every routed model (<see cref="AttachmentLifecycle.IsRouted"/>). Call with the VCPU parked.</summary>
    public void Publish(ExitRouter router)
    {
        router.Publish(dm => ((DeviceModelAttachment)dm).Lifecycle.IsRouted);
        _routed = All.Where(a => a.Lifecycle.IsRouted).ToArray();
    }

    /// <summary>
    /// A retired model's mapping goes: at once if it was drained (the VCPU is parked outside any exit);
    /// a failed one's VCPU may still be inside its held exit, reading its data page: at the next checkpoint.
    /// </summary>
    public void ReleaseRegion(DeviceModelAttachment att, bool wasFailed)
    {
        lock (_all)
        {
            if (wasFailed)
            {
                _releaseLater.Add(att);
                Volatile.Write(ref _releasePending, 1);
            }
            else att.ReleaseRegion();
        }
    }

    /// <summary>
    /// VCPU thread, at a checkpoint (outside every exit): unmaps the comm regions of retired failed models,
    /// so swaps and replacements over a long run do not pile up mappings and descriptors.
    /// </summary>
    public void ReleaseRetired()
    {
        if (Volatile.Read(ref _releasePending) == 0) return;
        lock (_all)
        {
            foreach (DeviceModelAttachment a in _releaseLater) a.ReleaseRegion();
            _releaseLater.Clear();
            _releasePending = 0;
        }
    }

    /// <summary>VCPU thread, between slices: why the guest must stay paused (a failed device model holds it), or null.</summary>
    public string? StallReason()
    {
        // Walks the list under its lock instead of copying it (no allocation).
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.Phase == AttachmentPhase.Failed) return $"device model {a.Id} '{a.Name}' {a.Lifecycle.Failure}";
        return null;
    }

    /// <summary>The value the guest wrote to an exit port served by any device model, if it did (checked every slice).</summary>
    public uint? StopValue
    {
        get
        {
            lock (_all)
                foreach (DeviceModelAttachment a in _all)
                    if (a.Port.StopValue is { } v) return v;
            return null;
        }
    }

    /// <summary>Who ended the VM and how, for the end message (called once, after <see cref="StopValue"/> was set).</summary>
    public string StopDescription(ExitRouter router)
    {
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.Port.StopValue is { } v)
                {
                    var (reason, address) = a.Port.StopExit;
                    string where = reason == ExitReason.PortIo ? $"port 0x{address:X}" : $"address 0x{address:X}";
                    string device = router.ClaimAt(reason, address)?.Device ?? "?";
                    return $"device model {a.Id} '{a.Name}' ended the VM with value 0x{v:X}, at the guest's access to '{device}' ({where})";
                }
        return "a device model ended the VM";
    }

    /// <summary>Hands every routed device model its pending batched writes (halt, VM end).</summary>
    public void Flush(FlushReason reason)
    {
        foreach (DeviceModelAttachment a in _routed) a.Port.Flush(reason);
    }

    /// <summary>The latency bound of batched writes, checked between slices.</summary>
    public void FlushIfDue()
    {
        foreach (DeviceModelAttachment a in _routed) a.Port.FlushIfDue();
    }

    /// <summary>VCPU thread: picks up IRQ lines of every routed device model.</summary>
    public void PollIrqs()
    {
        foreach (DeviceModelAttachment a in _routed) a.Irq.Poll();
    }

    /// <summary>
    /// VCPU thread, guest halted: sleeps until an IRQ word changes or the timeout passes. The futex
    /// waits on one word: the first device model's. With several, the sleep is cut to 1 ms so the
    /// others' lines are seen promptly.
    /// </summary>
    public void WaitForIrq(long timeoutMicros)
    {
        DeviceModelAttachment[] routed = _routed;
        if (routed.Length == 0)
        {
            _haltWake.Wait(TimeSpan.FromMicroseconds(timeoutMicros));
            _haltWake.Reset();
            return;
        }
        routed[0].Irq.WaitForChange(routed.Length > 1 ? Math.Min(timeoutMicros, 1000) : timeoutMicros);
    }

    /// <summary>Gets a halted VCPU out of its sleep (any thread).</summary>
    public void Kick()
    {
        lock (_all)
            foreach (DeviceModelAttachment a in _all)
                if (a.Phase != AttachmentPhase.Retired) a.Irq.Kick();
        _haltWake.Set();
    }

    /// <summary>The VM has ended and no thread touches a comm region any more: unmap them all.</summary>
    public void Dispose()
    {
        foreach (DeviceModelAttachment a in All) a.ReleaseRegion();
        _haltWake.Dispose();
    }
}
