using Virt.DeviceModelKit.Vcpu;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;

namespace Virt.DeviceModelKit.Assist;

/// <summary>
/// Completes an assisted REP INS/OUTS exit (ExitFlags.Assist) as libnvmm's nvmm_assist_io does:
/// GetState(GPRS|SEGS|CRS), find the buffer at Segment:(E)SI (OUTS) or ES:(E)DI (INS) through the
/// segment base and the guest page tables, move Count elements between the device and guest RAM,
/// then SetState(GPRS) with ECX and ESI/EDI advanced. The whole buffer is translated before the
/// device is touched, so a buffer that does not map is refused (Unhandled) with no side effect.
/// Every range written to RAM goes into the page's RAM write log, so the monitor drops any decoded
/// code there. The device is reached through <see cref="IPortIo"/>, libnvmm's io callback.
/// </summary>
public sealed class StringIoAssistant(SharedRegion ram, VcpuStateAccess state)
{
    private const StateBits Needed = StateBits.Gprs | StateBits.Segs | StateBits.Crs;
    private readonly GuestPageWalker _walker = new(ram);
    private readonly byte[] _buffer = new byte[CommPageLayout.PageSize];
    private readonly List<(int At, long Phys, int Length)> _runs = new(4);

    public CompletionStatus Serve(ref CommPage page, IPortIo device)
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

        // Translate the whole buffer first: runs that are contiguous both in the linear buffer and in
        // guest-physical memory (a run ends at a page boundary or where a 16-bit offset wraps).
        _runs.Clear();
        for (int i = 0; i < bytes;)
        {
            uint offset = (index + (uint)i) & amask;
            uint linear = segBase + offset;
            int length = Math.Min(bytes - i, (int)(0x1000 - (linear & 0xFFF)));
            if (a16) length = Math.Min(length, (int)(0x1_0000 - offset));
            if (_walker.Translate(page.Crs, linear) is not { } phys || phys + (ulong)length > (ulong)ram.Size) return CompletionStatus.Unhandled;
            _runs.Add((i, (long)phys, length));
            i += length;
        }

        ushort port = (ushort)exit.Address;
        Span<byte> buffer = _buffer.AsSpan(0, bytes);
        if (outs)
        {
            foreach (var (at, phys, length) in _runs) ram.AsSpan(phys, length).CopyTo(buffer.Slice(at, length));
            for (int e = 0; e < count; e++)
            {
                uint v = 0;
                for (int b = 0; b < size; b++) v |= (uint)buffer[e * size + b] << (8 * b);
                device.PortWrite(port, size, v);
            }
        }
        else
        {
            for (int e = 0; e < count; e++)
            {
                uint v = device.PortRead(port, size);
                for (int b = 0; b < size; b++) buffer[e * size + b] = (byte)(v >> (8 * b));
            }
            uint logged = page.RamWrites.Count;
            foreach (var (at, phys, length) in _runs)
            {
                buffer.Slice(at, length).CopyTo(ram.AsSpan(phys, length));
                if (logged < CommPageLayout.RamWriteSlots)
                {
                    ref RamWriteSlot slot = ref CommPageAccess.RamWrite(ref page, (int)logged);
                    slot.Address = (uint)phys;
                    slot.Length = (uint)length;
                }
                logged = Math.Min(logged + 1, CommPageLayout.RamWriteSlots + 1);
            }
            page.RamWrites.Count = logged;
        }

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
}
