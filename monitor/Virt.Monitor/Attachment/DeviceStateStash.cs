using Virt.Shared.Control;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The device state kept between one device model and the next: blobs saved by a model swapped out,
/// or the crash snapshot of one that failed. The next Hello takes them (they follow its Welcome); a
/// handshake that ends before Ready gives them back. Any thread.
/// </summary>
public sealed class DeviceStateStash
{
    private readonly object _lock = new();
    private StashedState _held = StashedState.None;

    /// <summary>Hands what is kept to a new device model and forgets it.</summary>
    public StashedState Take()
    {
        lock (_lock)
        {
            StashedState s = _held;
            _held = StashedState.None;
            return s;
        }
    }

    /// <summary>State a model saved at a pause (a swap): replaces anything kept.</summary>
    public void KeepSaved(IReadOnlyList<DeviceState> saved)
    {
        lock (_lock) _held = new StashedState(saved, false);
    }

    /// <summary>A failed model's last self-reported state; kept only if nothing is kept already. Returns whether it was kept.</summary>
    public bool KeepCrashSnapshot(IReadOnlyList<DeviceState> snapshot)
    {
        lock (_lock)
        {
            if (_held.Blobs.Count > 0) return false;
            _held = new StashedState(snapshot, true);
            return true;
        }
    }

    /// <summary>State given to a handshake that never reached Ready: kept again for the next one, unless newer state is kept.</summary>
    public void GiveBack(StashedState s)
    {
        lock (_lock)
            if (s.Blobs.Count > 0 && _held.Blobs.Count == 0) _held = s;
    }
}
