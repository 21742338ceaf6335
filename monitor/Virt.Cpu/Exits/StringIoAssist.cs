namespace Virt.Cpu.Exits;

/// <summary>
/// One chunk of a forward REP INS/OUTS offered to the exit handler to complete by itself, as NVMM's
/// I/O assist does: the handler moves <see cref="Count"/> elements between the port and the guest
/// buffer (found through the guest's segments and page tables) and sets ECX and ESI/EDI as the
/// instruction would. The engine has already checked every element of the buffer (segment limits,
/// page presence and write permission, accessed/dirty bits), so a fault stays precise; the
/// buffer lies in at most two pages.
/// </summary>
/// <param name="Segment">Segment register of the memory operand (0 ES ... 5 GS): ES for INS, the (overridable) source for OUTS.</param>
/// <param name="Address16">16-bit address size: SI/DI/CX wrap at 64 KiB and the upper halves stay.</param>
public readonly record struct StringIoAssist(ushort Port, int Size, bool Out, uint Count, int Segment, bool Address16);
