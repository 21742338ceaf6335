using System.Runtime.CompilerServices;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Mmu;
using Virt.Cpu.State;

namespace Virt.Cpu;

// The block cache: guest code is decoded once per (physical address, code size) into a compact
// form; a small jump cache keyed by linear EIP finds the block without a page walk. A write to a
// page holding decoded code drops that page's blocks (self-modifying code, page reuse).
public sealed unsafe partial class Cpu
{
    internal const int MaxBlockOps = 64;
    // 32,768 entries (512 KiB): at 4,096 a booting Linux missed 312,000 times on collisions alone.
    private const int JumpCacheSize = 1 << 15;

    private readonly Dictionary<ulong, Block> _blocks = new();
    private readonly Dictionary<uint, List<Block>> _pageBlocks = new();
    // Keyed by the linear address and whether CPL is 3 (bit 32): a hit skips the fetch's U/S check,
    // so user code must never find a block looked up for supervisor code.
    // Keys: the linear address, bit 32 for CPL 3, a generation from bit 33, and bit 63 for code in
    // pages mapped global. A flush empties it by moving to the next generation instead of clearing
    // the array (a booting Linux flushes the TLB some 16,000 times); a CR3 write that keeps global
    // TLB entries moves only the other entries' generation, so the kernel's blocks stay found.
    private readonly (ulong Key, Block? Block)[] _jumpCache = new (ulong, Block?)[JumpCacheSize];
    private ulong _jumpCacheGeneration, _jumpCacheGlobalGeneration;
    private const ulong JumpCacheGlobal = 1UL << 63;
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
        ForgetJumpCache(keepGlobal);
        ClearNativeJumpTable(keepGlobal);
    }

    /// <summary>Empties the interpreter's jump cache (but for global code with <paramref name="keepGlobal"/>): new generations, or a real clear when they run out.</summary>
    private void ForgetJumpCache(bool keepGlobal)
    {
        _jumpCacheGeneration++;
        if (!keepGlobal) _jumpCacheGlobalGeneration++;
        if ((_jumpCacheGeneration | _jumpCacheGlobalGeneration) < 1UL << 30) return;
        Array.Clear(_jumpCache);
        _jumpCacheGeneration = _jumpCacheGlobalGeneration = 0;
    }

    private static DecoderOptions DecoderOptions => DecoderOptions.None;

    /// <summary>Finds the block starting at CS:EIP: the jump cache inline, the rest out of line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block LookupBlock()
    {
        uint la = _csBase + EipReg;
        ref var jc = ref _jumpCache[(la ^ (la >> 12)) & (JumpCacheSize - 1)];
        Block? b = jc.Block;
        ulong key = jc.Key;
        if (b != null && key == JumpCacheKey(la, global: (long)key < 0) && b.Valid && b.Code32 == _code32) return b;
        return LookupBlockSlow(la);
    }

    private ulong JumpCacheKey(uint la, bool global) =>
        la | (Cpl == 3 ? 1UL << 32 : 0) | (global ? _jumpCacheGlobalGeneration << 33 | JumpCacheGlobal : _jumpCacheGeneration << 33);

    /// <summary>
    /// A block's key in the block cache: its first byte's physical address and code size, and for an
    /// instruction across a page end also the physical page it ends in (plus one; zero for none).
    /// </summary>
    private static ulong BlockKey(uint phys, bool code32, uint secondPage) => phys | (code32 ? 1UL << 32 : 0) | (ulong)secondPage << 33;

    private Block LookupBlockSlow(uint la)
    {
        ref SegmentRegister cs = ref Seg[SegmentIndex.CS];
        bool code32 = cs.Big;
        ref var jc = ref _jumpCache[(la ^ (la >> 12)) & (JumpCacheSize - 1)];
        Block? b;
        if (EipReg > cs.Limit) throw Fault(Vectors.GP, 0);
        uint phys = CodeTranslate(la);
        uint secondPage = 0;
        if ((la & 0xFFF) > 0xFF0 && !FitsInPage(phys, code32))
        {
            // An instruction across a page end (a hot loop may hold one): cached like a block, keyed
            // by both physical pages and dropped by a write to either. The fetch of the second page
            // faults here as the instruction's fetch would; MMIO there is decoded for one use.
            uint phys2 = CodeTranslate((la | 0xFFF) + 1);
            if (_mem.HostPage(phys2) == 0) return DecodeStraddling(la, code32, phys: 0, secondPage: 0);
            secondPage = (phys2 >> 12) + 1;
        }
        ulong key = BlockKey(phys, code32, secondPage);
        if (!_blocks.TryGetValue(key, out b))
        {
            b = secondPage == 0 ? DecodeBlock(phys, code32) : DecodeStraddling(la, code32, phys, secondPage);
            _blocks[key] = b;
            AddToCodePage(b, phys);
            if (secondPage != 0) AddToCodePage(b, (secondPage - 1) << 12);
        }
        // The fetch just filled the code's TLB entry: whether it is global (an instruction across a
        // page end depends on two mappings, so it never is).
        ref TlbEntry code = ref _tlbR[(la >> 12) & TlbMask];
        jc = (JumpCacheKey(la, global: secondPage == 0 && code.Tag == la >> 12 && code.Global), b);
        return b;
    }

    /// <summary>Lists a block under a physical page it was decoded from, and guards the page against writes.</summary>
    private void AddToCodePage(Block b, uint phys)
    {
        uint page = phys >> 12;
        if (!_pageBlocks.TryGetValue(page, out var list)) _pageBlocks[page] = list = new List<Block>();
        list.Add(b);
        if (!_mem.IsCodePage(phys))
        {
            _mem.MarkCodePage(phys);
            ProtectCodePage(page);
        }
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

    /// <summary>
    /// An instruction that crosses a page boundary, fetched through the MMU: a one-instruction block
    /// the interpreter runs, cached when <paramref name="secondPage"/> names the RAM page it ends in,
    /// otherwise (<paramref name="phys"/> 0) decoded for one use.
    /// </summary>
    private Block DecodeStraddling(uint la, bool code32, uint phys, uint secondPage)
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
        Block b = Build(phys, code32, ins.Length, transient: secondPage == 0);
        b.SecondPage = secondPage;
        if (secondPage != 0) BlocksDecoded++;
        return b;
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

    /// <summary>
    /// Drops every block on a physical page (the page was written). A block across a page end that
    /// ends in this page takes the blocks of its first page with it: native code there may jump
    /// straight into it (NativeBlockCompiler's links stay within a page), and must not reach it stale.
    /// </summary>
    private void InvalidateCodePage(uint page)
    {
        if (!_pageBlocks.Remove(page, out var list)) return;
        List<uint>? firstPages = null;
        foreach (var b in list)
        {
            if (!b.Valid) continue; // an instruction across a page end, dropped by a write to its other page
            b.Valid = false;
            _blocks.Remove(BlockKey(b.PhysStart, b.Code32, b.SecondPage));
            BlocksInvalidated++;
            if (b.SecondPage != 0 && b.PhysStart >> 12 != page) (firstPages ??= new()).Add(b.PhysStart >> 12);
        }
        if (firstPages != null)
            foreach (uint first in firstPages) InvalidateCodePage(first);
        ClearNativeJumpTable(keepGlobal: false);
        _exitBlock = true; // if the running block was among them, it must not run on
    }
}
