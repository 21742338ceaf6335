using Virt.Monitor.Cli;

// virt: the monitor and its command line. See Cli/VirtCommand for the commands.
return await VirtCommand.MainAsync(args);
