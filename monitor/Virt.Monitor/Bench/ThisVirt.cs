using System.Diagnostics;

namespace Virt.Monitor.Bench;

/// <summary>The benchmarks' guest runs: this same virt, the apphost or virt.dll through the dotnet host that runs us.</summary>
public static class ThisVirt
{
    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        string self = Environment.ProcessPath ?? "virt";
        var psi = new ProcessStartInfo(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "virt.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
