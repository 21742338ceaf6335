using Virt.Cpu.Exits;
using Virt.Shared.Abi;

namespace Virt.Monitor.Transport;

// String I/O completed by the device model (NVMM's nvmm_assist_io), and the check of its commit.
public sealed unsafe partial class DeviceModelPort
{
    /// <summary>
    /// A chunk of REP INS/OUTS completed by the device model (NVMM's I/O assist): it reads the
    /// registers, segments and control registers (from the page when they are cached), walks the
    /// guest page tables to the buffer, moves the data itself and commits ECX and ESI/EDI. The
    /// monitor checks that commit against the architectural result: a device model that commits
    /// anything else is refused and the monitor completes the registers itself. False (the engine
    /// falls back to the data page) when no device model device took the port.
    /// </summary>
    public bool TryAssistString(in StringIoAssist chunk)
    {
        if (!StringAssist || _state is null || Down) return false;
        ref CommPage pre = ref _scratch[0];
        _state.Save(StateBits.Gprs, ref pre);
        if (chunk.Out) _table.ForgetWrite(chunk.Port, chunk.Size);
        _assist = chunk;
        _assistCommitted = false;
        var flags = ExitFlags.String | ExitFlags.Rep | ExitFlags.Assist | (chunk.Address16 ? ExitFlags.Address16 : 0);
        try
        {
            Exchange(ExitReason.PortIo, chunk.Port, chunk.Size, chunk.Out ? ExitDirection.Write : ExitDirection.Read, 0, flags, chunk.Count, (byte)chunk.Segment);
        }
        finally
        {
            _assist = null;
        }
        if (_assistCommitted) return true;
        if (_lastStatus is not (CompletionStatus.Ok or CompletionStatus.StopVm) || Failed is not null) return false;
        // Done, but not committed as the instruction requires: complete the registers ourselves.
        _stats.Refuse(Refusal.AssistCommit);
        ExpectedAfter(chunk, ref pre.Gprs);
        _state.Commit(StateBits.Gprs, ref pre);
        return true;
    }

    /// <summary>The registers after a chunk of <paramref name="c"/>: ECX down by Count, ESI or EDI up by Count * Size.</summary>
    private static void ExpectedAfter(in StringIoAssist c, ref GprArea g)
    {
        uint moved = c.Count * (uint)c.Size;
        static uint Step(uint r, uint delta, bool a16) => a16 ? (r & 0xFFFF_0000u) | ((r + delta) & 0xFFFF) : r + delta;
        g.Ecx = Step(g.Ecx, unchecked(0u - c.Count), c.Address16);
        if (c.Out) g.Esi = Step(g.Esi, moved, c.Address16);
        else g.Edi = Step(g.Edi, moved, c.Address16);
    }
}
