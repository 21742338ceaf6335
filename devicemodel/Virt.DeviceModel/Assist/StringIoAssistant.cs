using Virt.Devices.Bus;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;

namespace Virt.DeviceModel.Assist;

/// <summary>
/// Completes an assisted REP INS/OUTS exit (ExitFlags.Assist) as libnvmm's nvmm_assist_io does:
/// GetState(GPRS|SEGS|CRS), find the buffer at Segment:(E)SI (OUTS) or ES:(E)DI (INS) through the
/// segment base and the guest page tables, move Count elements between the device and guest RAM,
/// then SetState(GPRS) with ECX and ESI/EDI advanced. The whole buffer is translated before the
/// device is touched, so a buffer that does not map is refused (Unhandled) with no side effect.
/// Every range written to RAM goes into the page's RAM write log, so the monitor drops any decoded
/// code there.
/// </summary>
public sealed class StringIoAssistant(SharedRegion ram, VcpuStateAccess state)
{
    private const StateBits Needed = StateBits.Gprs | StateBits.Segs | StateBits.Crs;
    private readonly GuestPageWalker _walker = new(ram);
    private readonly long[] _phys = new long[CommPageLayout.PageSize];

    public CompletionStatus Serve(ref CommPage page, IDevice device)
    {
        ref ExitRecord exit = ref page.Exit;
        int size = exit.Size;
        uint count = exit.Count;
        if (size is not (1 or 2 or 4) || count == 0 || count * (uint)size > CommPageLayout.PageSize || exit.Segment > 5 || exit.Address > 0xFFFF)
            return CompletionStatus.Unhandled;
        if (!state.TryGet(ref page, Needed)) return CompletionStatus.NeedState;

        bool outs = exit.Direction == (byte)ExitDirection.Write;
        bool a16 = (exit.Flags & (byte)ExitFlags.Address16) != 0;
        uint amask = a16 ? 0xFFFFu : 0xFFFF_FFFFu;
        ref GprArea g = ref page.Gprs;
        uint index = outs ? g.Esi : g.Edi;
        uint segBase = SegmentBase(ref page.Segs, exit.Segment);
        int bytes = (int)count * size;

        // Translate every byte first (one walk per guest page).
        uint cachedPage = uint.MaxValue;
        ulong cachedPhys = 0;
        for (int i = 0; i < bytes; i++)
        {
            uint linear = segBase + ((index + (uint)i) & amask);
            if (linear >> 12 != cachedPage)
            {
                if (_walker.Translate(page.Crs, linear & ~0xFFFu) is not { } p) return CompletionStatus.Unhandled;
                cachedPage = linear >> 12;
                cachedPhys = p;
            }
            _phys[i] = (long)(cachedPhys | (linear & 0xFFF));
        }

        ushort port = (ushort)exit.Address;
        var log = new RamWriteLogBuilder(ref page);
        for (int e = 0; e < count; e++)
        {
            int at = e * size;
            if (outs)
            {
                uint v = 0;
                for (int b = 0; b < size; b++) v |= (uint)ram.AsSpan(_phys[at + b], 1)[0] << (8 * b);
                device.PortWrite(port, size, v);
            }
            else
            {
                uint v = device.PortRead(port, size);
                for (int b = 0; b < size; b++)
                {
                    ram.AsSpan(_phys[at + b], 1)[0] = (byte)(v >> (8 * b));
                    log.Add(ref page, (uint)_phys[at + b]);
                }
            }
        }
        log.Finish(ref page);

        uint moved = (uint)bytes;
        static uint Step(uint r, uint delta, bool a16) => a16 ? (r & 0xFFFF_0000u) | ((r + delta) & 0xFFFF) : r + delta;
        g.Ecx = Step(g.Ecx, unchecked(0u - count), a16);
        if (outs) g.Esi = Step(g.Esi, moved, a16);
        else g.Edi = Step(g.Edi, moved, a16);
        state.Set(ref page, StateBits.Gprs);
        return CompletionStatus.Ok;
    }

    private static uint SegmentBase(ref SegsArea s, int index) => index switch
    {
        0 => s.Es.Base,
        1 => s.Cs.Base,
        2 => s.Ss.Base,
        3 => s.Ds.Base,
        4 => s.Fs.Base,
        _ => s.Gs.Base,
    };

    /// <summary>Merges byte writes into ranges of the RAM write log; more ranges than slots marks it overflowed.</summary>
    private ref struct RamWriteLogBuilder
    {
        private uint _start, _length;
        private uint _count;

        public RamWriteLogBuilder(ref CommPage page) => _count = page.RamWrites.Count;

        public void Add(ref CommPage page, uint phys)
        {
            if (_length != 0 && phys == _start + _length) { _length++; return; }
            Flush(ref page);
            _start = phys;
            _length = 1;
        }

        private void Flush(ref CommPage page)
        {
            if (_length == 0) return;
            if (_count < CommPageLayout.RamWriteSlots)
            {
                ref RamWriteSlot slot = ref CommPageAccess.RamWrite(ref page, (int)_count);
                slot.Address = _start;
                slot.Length = _length;
            }
            _count = Math.Min(_count + 1, CommPageLayout.RamWriteSlots + 1);
            _length = 0;
        }

        public void Finish(ref CommPage page)
        {
            Flush(ref page);
            page.RamWrites.Count = _count;
        }
    }
}
