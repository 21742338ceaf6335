namespace Virt.Devices.Rtc;

/// <summary>
/// CMOS offsets and register bits of the MC146818 RTC and the PC/AT CMOS layout that firmware
/// (SeaBIOS, the Linux boot path) reads memory sizes and equipment from.
/// </summary>
public static class CmosMap
{
    public const int Size = 128;

    // Clock registers.
    public const int Seconds = 0x00, SecondsAlarm = 0x01, Minutes = 0x02, MinutesAlarm = 0x03;
    public const int Hours = 0x04, HoursAlarm = 0x05, Weekday = 0x06, DayOfMonth = 0x07, Month = 0x08, Year = 0x09;
    public const int RegisterA = 0x0A, RegisterB = 0x0B, RegisterC = 0x0C, RegisterD = 0x0D;

    // PC/AT layout.
    public const int ShutdownStatus = 0x0F;
    public const int FloppyTypes = 0x10;
    public const int HardDiskTypes = 0x12;
    public const int Equipment = 0x14;
    public const int BaseMemoryLow = 0x15, BaseMemoryHigh = 0x16;
    public const int ExtendedMemoryLow = 0x17, ExtendedMemoryHigh = 0x18;
    public const int ChecksumFirst = 0x10, ChecksumLast = 0x2D;
    public const int ChecksumHigh = 0x2E, ChecksumLow = 0x2F;
    public const int ExtendedMemory2Low = 0x30, ExtendedMemory2High = 0x31;
    public const int Century = 0x32;
    public const int MemoryAbove16MLow = 0x34, MemoryAbove16MHigh = 0x35;
    public const int MemoryAbove4G = 0x5B; // three bytes, 0x5B-0x5D, in 64 KiB units.

    // Register A.
    public const byte AUpdateInProgress = 0x80, ADividerMask = 0x70, ADividerNormal = 0x20, ARateMask = 0x0F;

    // Register B.
    public const byte BSet = 0x80, BPeriodicEnable = 0x40, BAlarmEnable = 0x20, BUpdateEnable = 0x10;
    public const byte BSquareWave = 0x08, BBinary = 0x04, B24Hour = 0x02, BDaylightSaving = 0x01;

    // Register C.
    public const byte CIrqFlag = 0x80, CPeriodic = 0x40, CAlarm = 0x20, CUpdateEnded = 0x10;

    // Register D.
    public const byte DValidRamAndTime = 0x80;

    /// <summary>An alarm register value with both top bits set matches any value ("don't care").</summary>
    public const byte AlarmDontCare = 0xC0;
}
