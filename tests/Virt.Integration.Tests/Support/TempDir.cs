namespace Virt.Integration.Tests.Support;

/// <summary>Private (0700) temporary directories for runtime dirs and guest images.</summary>
public static class TempDir
{
    public static string Create(string prefix)
    {
        string path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Writes a guest image to a fresh file and returns its path.</summary>
    public static string WriteImage(byte[] image, string name = "guest.elf")
    {
        string path = Path.Combine(Create("virt-guest"), name);
        File.WriteAllBytes(path, image);
        return path;
    }
}
