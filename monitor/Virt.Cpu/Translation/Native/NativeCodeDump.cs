using System.Text;
using Iced.Intel;
using Virt.Cpu.Execution;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// A debugging aid: a compiled block's guest instructions and the host code made of them, as
/// text appended to a file (<see cref="Cpu.NativeDumpPath"/>), for reading what the hot loops cost.
/// </summary>
internal static class NativeCodeDump
{
    public static void Append(string path, Block b, uint linearStart, NativeBlockCompiler.Emitted e, ulong hostAddress, long cacheOffset)
    {
        var text = new StringBuilder();
        var formatter = new NasmFormatter();
        var output = new StringOutput();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"block at {linearStart:X8}: {e.Covered} of {b.Instructions.Length} ops, {e.Code.Length} bytes of host code at cache offset {cacheOffset:X} (perf's offset in memfd:virt-native-code)\n");
        for (int i = 0; i < b.Instructions.Length; i++)
        {
            formatter.Format(in b.Instructions[i], output);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"  guest {b.Instructions[i].IP32:X8}  {output.ToStringAndReset()}\n");
        }
        var decoder = Iced.Intel.Decoder.Create(64, e.Code, hostAddress);
        while (decoder.IP < hostAddress + (ulong)e.Code.Length)
        {
            decoder.Decode(out Instruction ins);
            formatter.Format(in ins, output);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"  host {(ulong)cacheOffset + ins.IP - hostAddress,6:X}  {output.ToStringAndReset()}\n");
        }
        File.AppendAllText(path, text.ToString());
    }
}
