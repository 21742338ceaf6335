using Virt.Devices.State;

namespace Virt.Devices.Platform;

// Save and restore (a VM snapshot): the redirection table, the input pins' levels, IOREGSEL and the ID.
public sealed partial class IoApic : IStatefulDevice
{
    private const string StateTag = "IOAP";
    private const ushort StateVersion = 1;

    public byte[] SaveState()
    {
        var w = new StateWriter(StateTag, StateVersion);
        foreach (ulong e in _redir) w.Int64((long)e);
        foreach (bool p in _pin) w.Bool(p);
        w.Int32((int)_select);
        w.Int32((int)_id);
        return w.ToArray();
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        var redir = new ulong[Pins];
        var pins = new bool[Pins];
        for (int i = 0; i < Pins; i++) redir[i] = (ulong)r.Int64();
        for (int i = 0; i < Pins; i++) pins[i] = r.Bool();
        uint select = (uint)r.Int32(), id = (uint)r.Int32();
        r.End();
        redir.CopyTo(_redir, 0);
        pins.CopyTo(_pin, 0);
        _select = select;
        _id = id;
    }
}
