namespace Virt.Cpu.Firmware;

/// <summary>Bytes the firmware sends out through its call table (the console of the device it emulates).</summary>
public delegate void FirmwareOutput(ReadOnlySpan<byte> data);
