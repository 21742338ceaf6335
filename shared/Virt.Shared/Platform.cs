// The monitor and the device model share memory through file mappings, Unix sockets and
// futexes: Linux only. The types that make those calls say so ([SupportedOSPlatform("linux")]),
// so the platform analyzer checks every call; the rest (layouts, messages, routing) is plain
// data that any project may use, including the platform-neutral device library.
