using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation;

/// <summary>
/// A compiled block. Runs the block (a loop back to its own start stays inside) with EipReg =
/// <paramref name="startEip"/> at entry and at most <paramref name="left"/> instructions (at least
/// the block's op count). Returns the instructions retired that the caller must still count, or
/// -1 when the block's entry assumptions (flat segments, 32-bit stack) do not hold and nothing ran
/// (also for <paramref name="left"/> &lt; 0, which the compiler uses to force the JIT).
/// On return EipReg and every register and flag are back in the CPU's fields.
/// </summary>
internal delegate long TranslatedCode(Cpu cpu, Block block, uint startEip, long left);
