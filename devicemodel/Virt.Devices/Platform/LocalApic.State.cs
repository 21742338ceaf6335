using Virt.Devices.State;

namespace Virt.Devices.Platform;

// Save and restore (a VM snapshot): every register, the ISR/TMR/IRR bitmaps and the timer, whose
// load time is kept relative to the moment of saving so it keeps its phase on the restoring clock.
public sealed partial class LocalApic : IStatefulDevice
{
    private const string StateTag = "LAPC";
    private const ushort StateVersion = 1;

    public byte[] SaveState()
    {
        var w = new StateWriter(StateTag, StateVersion);
        foreach (uint[] bits in new[] { _isr, _tmr, _irr })
            foreach (uint v in bits) w.Int32((int)v);
        foreach (uint v in _lvt) w.Int32((int)v);
        foreach (uint v in new[] { _id, _tpr, _ldr, _dfr, _svr, _esr, _icrLow, _icrHigh, _divide, _initialCount }) w.Int32((int)v);
        w.Int64(Now - _timerStart);
        w.Bool(_timerArmed);
        return w.ToArray();
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        // Read everything before changing anything: a damaged blob leaves the APIC as it was.
        var words = new uint[3 * 8 + 6 + 10];
        for (int i = 0; i < words.Length; i++) words[i] = (uint)r.Int32();
        long sinceLoad = r.Int64();
        bool armed = r.Bool();
        r.End();
        int k = 0;
        foreach (uint[] bits in new[] { _isr, _tmr, _irr })
            for (int i = 0; i < bits.Length; i++) bits[i] = words[k++];
        for (int i = 0; i < _lvt.Length; i++) _lvt[i] = words[k++];
        _id = words[k++];
        _tpr = words[k++];
        _ldr = words[k++];
        _dfr = words[k++];
        _svr = words[k++];
        _esr = words[k++];
        _icrLow = words[k++];
        _icrHigh = words[k++];
        _divide = words[k++];
        _initialCount = words[k];
        _timerStart = Now - sinceLoad;
        _timerArmed = armed;
    }
}
