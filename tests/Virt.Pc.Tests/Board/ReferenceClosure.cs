using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Virt.Pc.Tests.Board;

/// <summary>
/// Every assembly an assembly file needs, directly or through others, read from metadata (nothing is
/// loaded): references found as files beside it are followed, the rest (the framework) are listed
/// by name only.
/// </summary>
internal static class ReferenceClosure
{
    public static IReadOnlySet<string> Of(string assemblyPath)
    {
        string dir = Path.GetDirectoryName(assemblyPath)!;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<string>([assemblyPath]);
        while (pending.TryPop(out string? path))
        {
            using var pe = new PEReader(File.OpenRead(path));
            MetadataReader md = pe.GetMetadataReader();
            foreach (AssemblyReferenceHandle handle in md.AssemblyReferences)
            {
                string name = md.GetString(md.GetAssemblyReference(handle).Name);
                string file = Path.Combine(dir, name + ".dll");
                if (seen.Add(name) && File.Exists(file)) pending.Push(file);
            }
        }
        return seen;
    }
}
