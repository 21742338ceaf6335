using System.Runtime.CompilerServices;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// The block cache: guest code is decoded once per (physical address, code size) into a compact
// form; a small jump cache keyed by linear EIP finds the block without a page walk. A write to a
// page holding decoded code drops that page's blocks (self-modifying code, page reuse).
public sealed unsafe partial class Cpu
{
    internal const int MaxBlockOps = 64;
    private const int JumpCacheSize = 4096;

    private readonly Dictionary<ulong, Block> _blocks = new();
    private readonly Dictionary<uint, List<Block>> _pageBlocks = new();
    // Keyed by the linear address and whether CPL is 3 (bit 32): a hit skips the fetch's U/S check,
    // so user code must never find a block looked up for supervisor code.
    private readonly (ulong Key, Block? Block)[] _jumpCache = new (ulong, Block?)[JumpCacheSize];
    private readonly PointerCodeReader _codeReader = new();
    private readonly Decoder _decoder16, _decoder32;

    private Decoder CreateDecoder(int bitness) => Decoder.Create(bitness, _codeReader, DecoderOptions);
    private readonly List<Instruction> _decodeScratch = new(MaxBlockOps);
    private readonly byte[] _straddle = new byte[16];

    /// <summary>Blocks decoded and invalidated so far (statistics and tests).</summary>
    public long BlocksDecoded { get; private set; }
    public long BlocksInvalidated { get; private set; }

    /// <summary>
    /// Tests only: decode everything to <see cref="Op.Generic"/> so the reference executor runs every
    /// instruction, to compare it with the compact fast handlers. Costs nothing at run time.
    /// </summary>
    internal bool GenericOnly { get; set; }

    /// <summary>Tests only: the compact op kinds of the block at a physical address, decoded afresh (not cached).</summary>
    internal Op[] DecodeForTest(uint phys, bool code32) => Array.ConvertAll(DecodeBlock(phys, code32).Ops, o => o.Op);

    /// <summary>
    /// Forgets where linear addresses led: the interpreter's jump cache, and the native jump table,
    /// which with <paramref name="keepGlobal"/> (a CR3 write with global pages on) keeps the entries
    /// for code in global pages, whose linear-to-physical mapping survives as the TLB's does.
    /// </summary>
    private void FlushJumpCache(bool keepGlobal = false)
    {
        Array.Clear(_jumpCache);
        ClearNativeJumpTable(keepGlobal);
    }

    private static DecoderOptions DecoderOptions => DecoderOptions.None;

    /// <summary>Finds the block starting at CS:EIP: the jump cache inline, the rest out of line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block LookupBlock()
    {
        uint la = _csBase + EipReg;
        ref var jc = ref _jumpCache[(la ^ (la >> 12)) & (JumpCacheSize - 1)];
        Block? b = jc.Block;
        if (b != null && jc.Key == JumpCacheKey(la) && b.Valid && b.Code32 == _code32) return b;
        return LookupBlockSlow(la);
    }

    private ulong JumpCacheKey(uint la) => la | (Cpl == 3 ? 1UL << 32 : 0);

    private Block LookupBlockSlow(uint la)
    {
        ref SegmentRegister cs = ref Seg[SegmentIndex.CS];
        bool code32 = cs.Big;
        ref var jc = ref _jumpCache[(la ^ (la >> 12)) & (JumpCacheSize - 1)];
        Block? b;
        if (EipReg > cs.Limit) throw Fault(Vectors.GP, 0);
        uint phys = CodeTranslate(la);
        if ((la & 0xFFF) > 0xFF0 && !FitsInPage(phys, code32))
            return DecodeStraddling(la, code32);
        ulong key = phys | (code32 ? 1UL << 32 : 0);
        if (!_blocks.TryGetValue(key, out b))
        {
            b = DecodeBlock(phys, code32);
            if (b.Transient) return b;
            _blocks[key] = b;
            uint page = phys >> 12;
            if (!_pageBlocks.TryGetValue(page, out var list)) _pageBlocks[page] = list = new List<Block>();
            list.Add(b);
            if (!_mem.IsCodePage(phys))
            {
                _mem.MarkCodePage(phys);
                ProtectCodePage(page);
            }
        }
        jc = (JumpCacheKey(la), b);
        return b;
    }

    /// <summary>Translates a code fetch address (a read with the current privilege).</summary>
    private uint CodeTranslate(uint la)
    {
        ref var e = ref _tlbR[(la >> 12) & TlbMask];
        if (e.Tag == la >> 12) return (e.PhysPage << 12) | (la & 0xFFF);
        return TlbFill(la, false, Cpl == 3);
    }

    /// <summary>True when the instruction at phys decodes without running off the page end.</summary>
    private bool FitsInPage(uint phys, bool code32)
    {
        nint host = _mem.HostPage(phys);
        if (host == 0) return true; // MMIO: DecodeBlock reports it
        var dec = code32 ? _decoder32 : _decoder16;
        _codeReader.Reset((byte*)host + (phys & 0xFFF), (int)(0x1000 - (phys & 0xFFF)));
        dec.Decode(out _);
        return dec.LastError != DecoderError.NoMoreBytes;
    }

    private Block DecodeBlock(uint phys, bool code32)
    {
        nint host = _mem.HostPage(phys);
        if (host == 0)
            throw new ShutdownException($"execution from a page that is not RAM or ROM (physical 0x{phys:X8})");
        var dec = code32 ? _decoder32 : _decoder16;
        int offset = (int)(phys & 0xFFF);
        _codeReader.Reset((byte*)host + offset, 0x1000 - offset);
        dec.IP = 0;
        _decodeScratch.Clear();
        int bytes = 0;
        while (_decodeScratch.Count < MaxBlockOps)
        {
            dec.Decode(out Instruction ins);
            if (dec.LastError == DecoderError.NoMoreBytes) break; // next instruction straddles the page end
            _decodeScratch.Add(ins);
            bytes += ins.Length;
            if (EndsBlock(in ins)) break;
        }
        BlocksDecoded++;
        return Build(phys, code32, bytes, transient: false);
    }

    /// <summary>An instruction that crosses a page boundary: fetched through the MMU, decoded for one use.</summary>
    private Block DecodeStraddling(uint la, bool code32)
    {
        int n = 0;
        try
        {
            for (; n < 15; n++) _straddle[n] = ReadLin8(la + (uint)n);
        }
        catch (GuestFault) when (n > 0)
        {
            // The second page faults: decode what we have; if the instruction needs more, fetch again to raise the fault.
            var probe = Decoder.Create(code32 ? 32 : 16, new BytesCodeReader(_straddle, n), DecoderOptions);
            probe.Decode(out _);
            if (probe.LastError == DecoderError.NoMoreBytes) ReadLin8(la + (uint)n);
        }
        var dec = Decoder.Create(code32 ? 32 : 16, new BytesCodeReader(_straddle, n), DecoderOptions);
        dec.Decode(out Instruction ins);
        _decodeScratch.Clear();
        _decodeScratch.Add(ins);
        return Build(0, code32, ins.Length, transient: true);
    }

    private Block Build(uint phys, bool code32, int bytes, bool transient)
    {
        var instrs = _decodeScratch.ToArray();
        var ops = new DecodedOp[instrs.Length];
        for (int i = 0; i < instrs.Length; i++)
        {
            CompactForm.Build(in instrs[i], ref ops[i], i);
            if (GenericOnly) ops[i] = new DecodedOp { Op = Op.Generic, Len = ops[i].Len, Extra = (ushort)i, Base = DecodedOp.NoReg, Index = DecodedOp.NoReg };
        }
        return new Block { Ops = ops, Instructions = instrs, PhysStart = phys, Code32 = code32, ByteLength = bytes, Transient = transient };
    }

    /// <summary>
    /// Instructions after which decoding stops: control transfers, and anything that can change
    /// how the following bytes decode or whether an interrupt is now deliverable.
    /// </summary>
    private static bool EndsBlock(in Instruction ins)
    {
        if (ins.FlowControl != FlowControl.Next) return true;
        switch (ins.Mnemonic)
        {
            case Mnemonic.Hlt:
            case Mnemonic.Sti:
            case Mnemonic.Cli:
            case Mnemonic.Popf:
            case Mnemonic.Popfd:
            case Mnemonic.Lmsw:
            case Mnemonic.Clts:
            case Mnemonic.Invlpg:
            case Mnemonic.Wrmsr:
            case Mnemonic.Lldt:
            case Mnemonic.Ltr:
            case Mnemonic.Lgdt:
            case Mnemonic.Lidt:
            case Mnemonic.In:
            case Mnemonic.Out:
            case Mnemonic.Insb:
            case Mnemonic.Insw:
            case Mnemonic.Insd:
            case Mnemonic.Outsb:
            case Mnemonic.Outsw:
            case Mnemonic.Outsd:
            case Mnemonic.Invd:
            case Mnemonic.Wbinvd:
            case Mnemonic.Cpuid:
            case Mnemonic.Vmcall: // a hypercall may halt, flush the TLB or write guest memory
            case Mnemonic.Rsm:
                return true;
            case Mnemonic.Mov:
                return ins.Op0Kind == OpKind.Register && (ins.Op0Register.IsCR() || ins.Op0Register.IsDR() || ins.Op0Register.IsSegmentRegister());
            case Mnemonic.Pop:
                return ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister();
        }
        return false;
    }

    /// <summary>Drops every block on a physical page (the page was written).</summary>
    private void InvalidateCodePage(uint page)
    {
        if (!_pageBlocks.Remove(page, out var list)) return;
        foreach (var b in list)
        {
            b.Valid = false;
            _blocks.Remove(b.PhysStart | (b.Code32 ? 1UL << 32 : 0));
            BlocksInvalidated++;
        }
        ClearNativeJumpTable(keepGlobal: false);
        _exitBlock = true; // if the running block was among them, it must not run on
    }
}
