namespace Virt.Integration.Tests.Support;

/// <summary>
/// Device models that only tests use (virt-dm-hostile, the docs' echo-dm sample), built next to the
/// tests by their project references and launched with `virt run --dm PATH`.
/// </summary>
public static class TestDeviceModels
{
    /// <summary>The executable: the apphost if the build made one, else NAME.dll (which virt runs through dotnet).</summary>
    public static string Path(string name)
    {
        string apphost = System.IO.Path.Combine(AppContext.BaseDirectory, name);
        if (File.Exists(apphost)) return apphost;
        string dll = apphost + ".dll";
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{name} is not built next to the tests in {AppContext.BaseDirectory}");
    }

    /// <summary>A --dm value: the path and the arguments, separated by spaces.</summary>
    public static string Spec(string name, params string[] args) => string.Join(' ', [Path(name), .. args]);
}
