using Virt.Shared.Abi;
using Virt.Shared.Runtime;

namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// Publishes the devices' cacheable reads into the IN value table of every VCPU's comm page, under
/// the table's seqlock (Generation odd while writing), so the monitor never uses a torn table.
/// Callers hold the exit handler's lock (one writer at a time). Entries past the table's slots are left out.
/// </summary>
public sealed unsafe class InTableWriter(SharedRegion comm, int vcpuCount)
{
    public void Publish(IReadOnlyList<InTableEntry> reads)
    {
        int n = Math.Min(reads.Count, CommPageLayout.InTableSlots);
        for (int v = 0; v < vcpuCount; v++)
        {
            ref CommPage page = ref CommPageAccess.Page(comm.Base, v);
            Interlocked.Increment(ref page.InTable.Generation);
            for (int i = 0; i < n; i++)
            {
                InTableEntry r = reads[i];
                ref InTableSlot s = ref CommPageAccess.TableSlot(ref page, i);
                s.Port = r.Port;
                s.Size = (byte)r.Size;
                s.Value = r.Value;
                s.DependsOn = r.DependsOn;
                s.DependsCount = r.DependsCount;
                s.KeyPort = r.KeyPort;
                s.KeyValue = r.KeyValue;
                s.KeyMask = r.KeyMask;
                s.Flags = (byte)(InTableSlotFlags.Valid | (r.Keyed ? InTableSlotFlags.Keyed : 0));
            }
            page.InTable.Count = (uint)n;
            Interlocked.Increment(ref page.InTable.Generation);
        }
    }
}
