// The monitor and the device model share memory through file mappings, Unix sockets and
// futexes: Linux only. Saying so here lets the platform analyzer check every call.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
