using Virt.Devices.Bus;
using static Virt.Devices.Rtc.CmosMap;

namespace Virt.Devices.Rtc;

// Access policy. Index writes (0x70) are batched: they only select a register. Data writes (0x71)
// stay synchronous (they set the clock, the interrupt enables, the divider). Data reads are cached
// for the registers whose read has no side effect, keyed by the index the guest last wrote: the
// clock fields (a snapshot the host refreshes as time passes, all fields from one instant), B, D
// and the plain CMOS byte under the current index. Register A (UIP is a 244 us window guests poll
// for) and C (a read clears the flags) are never published: those reads reach the device.
public sealed partial class Mc146818Rtc : IAccessPolicies, ICachedReads
{
    private static readonly int[] s_clockFields = [Seconds, Minutes, Hours, Weekday, DayOfMonth, Month, Year, Century];

    public IReadOnlyList<RangePolicy> Policies =>
    [
        new(BusRange.Ports(IndexPort, 1), AccessPolicy.BatchedWrites),
        new(BusRange.Ports(DataPort, 1), AccessPolicy.CachedReads),
    ];

    public void PublishCachedReads(List<CachedRead> into)
    {
        void Add(int index) => into.Add(new CachedRead(DataPort, 1, ReadRegister(index), DataPort, 1,
            Keyed: true, KeyPort: IndexPort, KeyValue: (byte)index, KeyMask: 0x7F));
        foreach (int f in s_clockFields) Add(f);
        Add(RegisterB);
        Add(RegisterD);
        if (_index is not (RegisterA or RegisterB or RegisterC or RegisterD) && Array.IndexOf(s_clockFields, (int)_index) < 0) Add(_index);
    }
}
