using Virt.DeviceModelKit.Exits;
using Virt.Shared.Abi;
using Virt.Shared.Wakeup;

namespace Virt.HostileDeviceModel;

/// <summary>
/// virt-dm-hostile --hostile: before each honest completion, write garbage into the comm page
/// that a buggy or malicious device model could write: a wrong completion Seq, an unknown Status,
/// exit-record fields it must not touch, undefined state bits, an invalid GPRS commit, IRQ bits
/// past line 15, IN data wider than the access, a ring it claims it did not drain, an IN table
/// with more slots than exist, an assisted string commit that moves ECX too far. The monitor must
/// refuse and count each one and still run the guest to its end.
/// </summary>
public sealed class HostileBehaviour : ICompletionObserver
{
    private long _exits;
    private readonly Random? _fuzz;

    public HostileBehaviour() { }

    /// <summary>
    /// virt-dm-hostile --fuzz SEED: before each completion, random bytes at random offsets of the comm
    /// page (anything but the two doorbell words, so exits still complete and the run can end).
    /// </summary>
    public HostileBehaviour(int seed) => _fuzz = new Random(seed);

    public unsafe void BeforeComplete(ref CommPage page, Doorbell toMonitor, uint seq)
    {
        if (_fuzz is { } rng)
        {
            byte* p = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref page);
            for (int k = rng.Next(8); k > 0; k--)
            {
                // Mostly where the monitor reads (header, IRQ words, exit record, GPRS); sometimes anywhere.
                int at = rng.Next(4) == 0 ? rng.Next(CommPageLayout.PageSize - 8) : 0x10 + rng.Next(0x1F0);
                if (at + 8 > 0x40 && at < 0x48 || at + 8 > 0x80 && at < 0x88) continue; // ToDevice / ToMonitor Seq and Sleeping
                int width = 1 << rng.Next(4);
                for (int b = 0; b < width; b++) p[at + b] = (byte)rng.Next(256);
            }
            return;
        }
        long n = _exits++;
        uint honestStatus = page.Exit.Status;
        // Eleven cases: an odd cycle, so each case meets both reads and writes of a guest that alternates them.
        switch (n % 11)
        {
            case 0:
                // A completion for an exit that was never published: the monitor must keep waiting.
                toMonitor.Ring(seq + 12345);
                Thread.Sleep(1);
                break;
            case 1:
                // Undefined state bits and a commit of an EFLAGS with reserved bits set.
                page.Header.StateCommit = 0x8000_0000u | (uint)StateBits.Gprs;
                page.Gprs.Eflags = 0xFFFF_FFFF;
                break;
            case 2:
                // IRQ lines that do not exist.
                Interlocked.Or(ref page.Irq.Level, 0xFFFF_0000u);
                Interlocked.Or(ref page.Irq.Raised, 0x8000_0000u);
                Interlocked.Increment(ref page.Irq.Seq);
                break;
            case 3:
                // Exit-record fields only the monitor may write.
                page.Exit.Size = 3;
                page.Exit.Count = 999_999;
                break;
            case 4:
                // Read data wider than the access.
                page.Exit.Data |= 0xDEAD_BEEF_0000_0000UL;
                break;
            case 5:
                if (page.Exit.Direction == (byte)ExitDirection.Read && honestStatus == (uint)CompletionStatus.Ok)
                {
                    // Ask for state with bits no area has: the monitor fills what exists and republishes.
                    page.Header.StateWanted = 0xFFFF_FF00u | (uint)StateBits.Gprs;
                    page.Exit.Status = (uint)CompletionStatus.NeedState;
                }
                else if (honestStatus == (uint)CompletionStatus.Ok)
                {
                    // A status no version of the protocol defines (on a write, whose effect is done).
                    page.Exit.Status = 0x1234;
                }
                break;
            case 6:
                break;
            case 7:
                // Claims to have drained none of the batched writes it performed.
                if (page.OutRing.Pending != 0) page.OutRing.Drained = 0;
                else page.OutRing.Drained = 7;
                break;
            case 8:
                // A table that says it has more slots than the page holds.
                page.InTable.Count = 999;
                break;
            case 9:
                // An assisted REP INS/OUTS whose commit leaves one element too many in ECX.
                if ((page.Exit.Flags & (byte)ExitFlags.Assist) != 0 && page.Header.StateCommit != 0) page.Gprs.Ecx++;
                break;
            case 10:
                break;
        }
    }
}
