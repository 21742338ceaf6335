using Virt.Monitor.Guests;
using Virt.Monitor.Transport;
using Virt.Pc.Board;

namespace Virt.Monitor.Firmware;

/// <summary>
/// The guest firmware of `--place com1=firmware`: guests/firmware_uart.c compiled by guests/build.sh
/// (cached by source hash outside the tree; never committed), loaded into its reserved region
/// (<see cref="PcMemoryMap.GuestFirmwareBase"/>, inside the e820 map's reserved range below 1 MiB),
/// given COM1's ports, its console output sent where --serial says and its IRQ line wired in
/// beside the device models' (docs/firmware-reflection.md).
/// </summary>
public sealed class GuestFirmware : IDisposable
{
    /// <summary>The firmware's source of IRQ lines in the <see cref="IrqLineMux"/> (device models are numbered from 1).</summary>
    private const uint IrqSource = uint.MaxValue;

    private readonly Stream? _serial;
    private readonly bool _ownsSerial;
    private readonly Action _printing;

    private GuestFirmware(Stream? serial, bool ownsSerial, Action printing)
    {
        _serial = serial;
        _ownsSerial = ownsSerial;
        _printing = printing;
    }

    /// <summary>Builds the firmware and puts COM1 in it. Returns why it cannot (a message for the user), or the firmware.</summary>
    public static (GuestFirmware? Firmware, string? Error) Load(Cpu.Cpu cpu, string serial, IrqLineMux irqLines, Action<string> failed, Action printing)
    {
        byte[] image;
        try
        {
            image = File.ReadAllBytes(GuestBuildScript.Build("firmware", "firmware_uart", "--place com1=firmware"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            return (null, $"--place com1=firmware: {e.Message}");
        }
        Stream? output;
        try
        {
            output = serial switch
            {
                "none" => null,
                "stdio" => Console.OpenStandardOutput(),
                _ => new FileStream(serial["file:".Length..], FileMode.Create, FileAccess.Write, FileShare.Read),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return (null, $"--serial {serial}: {e.Message}");
        }
        try
        {
            cpu.LoadFirmware(PcMemoryMap.GuestFirmwareBase, PcMemoryMap.GuestFirmwareSize, image);
        }
        catch (ArgumentException e)
        {
            output?.Dispose();
            return (null, $"--place com1=firmware: {e.Message}");
        }
        var firmware = new GuestFirmware(output, ownsSerial: serial != "stdio", printing);
        cpu.ClaimPortsForFirmware(PcIoPorts.Com1, PcIoPorts.UartPortCount);
        cpu.FirmwareConsole = firmware.Write;
        cpu.FirmwareIrq = (line, high) => irqLines.Set(IrqSource, line, high);
        cpu.FirmwareFailed = (_, why) => failed(why);
        return (firmware, null);
    }

    private void Write(ReadOnlySpan<byte> data)
    {
        if (_serial is null) return;
        _printing();
        try
        {
            _serial.Write(data);
            _serial.Flush();
        }
        catch (IOException)
        {
            // A closed stdout (virt piped into head) loses the console, never the guest.
        }
    }

    public void Dispose()
    {
        if (_ownsSerial) _serial?.Dispose();
    }
}
