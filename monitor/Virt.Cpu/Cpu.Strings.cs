using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.State;

namespace Virt.Cpu;

// String instructions with REP/REPE/REPNE, segment overrides and both address sizes, and port
// I/O (IN, OUT, INS, OUTS) with the IOPL / TSS I/O-bitmap checks. A long REP runs in chunks and
// re-executes itself, so interrupts are taken between chunks as on hardware.
public sealed partial class Cpu
{
    private const int RepChunk = 16384;

    /// <summary>Iterations of a REP string op before it restarts (the run loop sees interrupts in between); native code loops the same.</summary>
    internal const int RepChunkIterations = RepChunk;

    private void ExecString(in Instruction ins)
    {
        Mnemonic m = ins.Mnemonic;
        int size = m switch
        {
            Mnemonic.Movsb or Mnemonic.Cmpsb or Mnemonic.Scasb or Mnemonic.Lodsb or Mnemonic.Stosb or Mnemonic.Insb or Mnemonic.Outsb => 1,
            Mnemonic.Movsw or Mnemonic.Cmpsw or Mnemonic.Scasw or Mnemonic.Lodsw or Mnemonic.Stosw or Mnemonic.Insw or Mnemonic.Outsw => 2,
            _ => 4,
        };
        bool a16 = false;
        for (int n = 0; n < ins.OpCount; n++)
            if (ins.GetOpKind(n) is OpKind.MemorySegSI or OpKind.MemoryESDI or OpKind.MemorySegDI) a16 = true;
        uint amask = a16 ? 0xFFFFu : 0xFFFF_FFFFu;
        bool rep = ins.HasRepPrefix || ins.HasRepnePrefix;
        int srcSeg = ins.MemorySegment - Register.ES;
        if (m is Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd)
            srcSeg = SegmentIndex.DS; // unused by these forms
        int delta = (_flags & Flags.DF) != 0 ? -size : size;
        int bits = size * 8;
        ushort port = (ushort)R[2];
        if (m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd)
            CheckIoPermission(port, size);

        uint count = rep ? R[1] & amask : 1;
        if (rep && count == 0) return;
        // A port the guest firmware claimed goes to its handler (Cpu.Firmware.cs).
        if (_fwActive && m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd
            && FirmwareString(m is Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd, srcSeg, port, size, rep, count, amask)) return;
        // With TF set each iteration is single-stepped (below), so the chunked I/O path is not used.
        bool singleStep = (_flags & Flags.TF) != 0;
        if (rep && delta > 0 && count > 1 && !singleStep && m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd or Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd)
        {
            StringIoChunk(m is Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd, srcSeg, port, size, count, amask);
            return;
        }
        int iterations = 0;
        while (true)
        {
            uint si = R[6] & amask, di = R[7] & amask;
            bool stop = false;
            switch (m)
            {
                case Mnemonic.Movsb:
                case Mnemonic.Movsw:
                case Mnemonic.Movsd:
                    WriteMem(SegmentIndex.ES, di, bits, ReadMem(srcSeg, si, bits));
                    AdvanceIndex(6, delta, amask); AdvanceIndex(7, delta, amask);
                    break;
                case Mnemonic.Stosb:
                case Mnemonic.Stosw:
                case Mnemonic.Stosd:
                    WriteMem(SegmentIndex.ES, di, bits, R[0]);
                    AdvanceIndex(7, delta, amask);
                    break;
                case Mnemonic.Lodsb:
                case Mnemonic.Lodsw:
                case Mnemonic.Lodsd:
                    {
                        uint v = ReadMem(srcSeg, si, bits);
                        WriteReg(size == 1 ? Register.AL : size == 2 ? Register.AX : Register.EAX, v);
                        AdvanceIndex(6, delta, amask);
                        break;
                    }
                case Mnemonic.Cmpsb:
                case Mnemonic.Cmpsw:
                case Mnemonic.Cmpsd:
                    {
                        uint a = ReadMem(srcSeg, si, bits), b = ReadMem(SegmentIndex.ES, di, bits);
                        Alu(7, a, b, bits);
                        AdvanceIndex(6, delta, amask); AdvanceIndex(7, delta, amask);
                        stop = ins.HasRepPrefix ? !GetZF() : ins.HasRepnePrefix && GetZF();
                        break;
                    }
                case Mnemonic.Scasb:
                case Mnemonic.Scasw:
                case Mnemonic.Scasd:
                    {
                        uint b = ReadMem(SegmentIndex.ES, di, bits);
                        Alu(7, R[0] & SizeMask(bits), b, bits);
                        AdvanceIndex(7, delta, amask);
                        stop = ins.HasRepPrefix ? !GetZF() : ins.HasRepnePrefix && GetZF();
                        break;
                    }
                case Mnemonic.Insb:
                case Mnemonic.Insw:
                case Mnemonic.Insd:
                    {
                        ProbeWrite(SegmentIndex.ES, di, size);
                        uint v = _exits.PortIn(port, size);
                        WriteMem(SegmentIndex.ES, di, bits, v);
                        AdvanceIndex(7, delta, amask);
                        break;
                    }
                default: // OUTS
                    _exits.PortOut(port, size, ReadMem(srcSeg, si, bits));
                    AdvanceIndex(6, delta, amask);
                    break;
            }
            if (!rep) return;
            count = (count - 1) & amask;
            if (a16) SetReg16(1, (ushort)count); else R[1] = count;
            if (count == 0 || stop) return;
            // A REP instruction is interruptible between iterations, and the single-step trap is
            // taken after each one with EIP still on the instruction, as hardware does (QEMU's
            // test-i386 single-step test checks it): one iteration per execution while TF is set.
            if (++iterations >= RepChunk || singleStep)
            {
                // Come back to this instruction: lets the run loop take interrupts (or the trap) in a long REP.
                _nextEip = EipReg;
                _exitBlock = true;
                return;
            }
        }
    }

    private readonly byte[] _ioBuffer = new byte[4096];

    /// <summary>
    /// REP INS/OUTS going forward: moves as many elements as fit in the rest of the guest buffer's
    /// page (at most 4 KiB) through one call of the exit handler's string form, so a device model
    /// sees one exit per chunk instead of one per element. Memory is checked (and, for OUTS, read)
    /// before the port is touched, so a fault is precise; the instruction re-executes for the rest.
    /// </summary>
    private void StringIoChunk(bool outs, int srcSeg, ushort port, int size, uint count, uint amask)
    {
        int seg = outs ? srcSeg : SegmentIndex.ES;
        int idx = outs ? 6 : 7;
        uint off = R[idx] & amask;
        uint n = StringIoChunkLength(seg, off, size, count, amask, (uint)_ioBuffer.Length);
        var data = _ioBuffer.AsSpan(0, (int)n * size);
        // Check the whole chunk before the port is touched (OUTS reads its data now, once), then offer
        // it to the handler to complete through guest memory (the device model's I/O assist).
        CheckStringIoChunk(outs, seg, off, size, amask, data);
        if (_exits.TryAssistString(new StringIoAssist(port, size, outs, n, seg, amask == 0xFFFF)))
        {
            // The handler set ECX and ESI/EDI; what is left runs in the next chunk, after any pending interrupt.
            if ((R[1] & amask) != 0)
            {
                _nextEip = EipReg;
                _exitBlock = true;
            }
            return;
        }
        if (outs)
        {
            _exits.PortOutString(port, size, data);
        }
        else
        {
            _exits.PortInString(port, size, data);
            StoreStringIoChunk(off, size, size, amask, data);
        }
        AdvanceIndex(idx, (int)n * size, amask);
        uint left = (count - n) & amask;
        if (amask == 0xFFFF) SetReg16(1, (ushort)left); else R[1] = left;
        if (left != 0)
        {
            _nextEip = EipReg; // the rest in the next chunk, after any pending interrupt
            _exitBlock = true;
        }
    }

    /// <summary>
    /// The elements one chunk of a forward REP INS/OUTS moves: up to the end of the guest buffer's page
    /// (at least one), the segment's end, <paramref name="count"/> and <paramref name="bufferBytes"/>.
    /// </summary>
    private uint StringIoChunkLength(int seg, uint off, int size, uint count, uint amask, uint bufferBytes)
    {
        uint la = Seg[seg].Base + off;
        uint roomInPage = (0x1000 - (la & 0xFFF)) / (uint)size;
        uint roomInSegment = (amask - off) / (uint)size + 1;
        return Math.Min(Math.Min(count, Math.Max(roomInPage, 1)), Math.Min(roomInSegment, bufferBytes / (uint)size));
    }

    /// <summary>
    /// A chunk's guest memory, checked before the port is touched so that a fault is precise: INS
    /// probes each element for writing; OUTS reads its elements into <paramref name="data"/> (once).
    /// </summary>
    private void CheckStringIoChunk(bool outs, int seg, uint off, int size, uint amask, Span<byte> data)
    {
        int bits = size * 8;
        for (int i = 0; i < data.Length / size; i++)
        {
            uint at = (off + (uint)(i * size)) & amask;
            if (!outs)
            {
                ProbeWrite(seg, at, size);
                continue;
            }
            uint v = ReadMem(seg, at, bits);
            for (int b = 0; b < size; b++) data[i * size + b] = (byte)(v >> (8 * b));
        }
    }

    /// <summary>INS's elements, read from the port, into guest memory at ES:off, stepping by <paramref name="delta"/> bytes (DF).</summary>
    private void StoreStringIoChunk(uint off, int size, int delta, uint amask, ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < data.Length / size; i++)
        {
            uint v = 0;
            for (int b = 0; b < size; b++) v |= (uint)data[i * size + b] << (8 * b);
            WriteMem(SegmentIndex.ES, (off + (uint)(i * delta)) & amask, size * 8, v);
        }
    }

    private void AdvanceIndex(int reg, int delta, uint amask)
    {
        uint v = R[reg] + (uint)delta;
        R[reg] = amask == 0xFFFF ? (R[reg] & 0xFFFF_0000) | (v & 0xFFFF) : v;
    }

    /// <summary>IN/OUT/INS/OUTS are allowed when CPL &lt;= IOPL (not in V86); otherwise the TSS I/O bitmap decides.</summary>
    private void CheckIoPermission(ushort port, int size)
    {
        if (!ProtectedMode || (!V86Mode && Cpl <= Iopl)) return;
        if ((Tr.Type & 8) == 0 || Tr.Limit < 0x67) throw Fault(Vectors.GP, 0);
        uint mapBase = ReadSys16(Tr.Base + 0x66);
        uint byteOff = mapBase + (uint)(port >> 3);
        if (byteOff + 1 > Tr.Limit) throw Fault(Vectors.GP, 0);
        uint bitsWord = ReadSys16(Tr.Base + byteOff);
        uint mask = ((1u << size) - 1) << (port & 7);
        if ((bitsWord & mask) != 0) throw Fault(Vectors.GP, 0);
    }

    private void ExecIn(in Instruction ins)
    {
        ushort port = ins.Op1Kind == OpKind.Register ? (ushort)R[2] : ins.Immediate8;
        int size = OpBits(in ins, 0) / 8;
        CheckIoPermission(port, size);
        if (_fwActive && FirmwarePort(port, size, input: true, 0)) return;
        WriteReg(ins.Op0Register, _exits.PortIn(port, size) & SizeMask(size * 8));
    }

    private void ExecOut(in Instruction ins)
    {
        ushort port = ins.Op0Kind == OpKind.Register ? (ushort)R[2] : ins.Immediate8;
        int size = OpBits(in ins, 1) / 8;
        CheckIoPermission(port, size);
        if (_fwActive && FirmwarePort(port, size, input: false, ReadReg(ins.Op1Register))) return;
        _exits.PortOut(port, size, ReadReg(ins.Op1Register));
    }
}
