namespace Virt.Monitor.Vm;

/// <summary>How and why the VM ended: the exit status of virt run and a sentence for the user.</summary>
public sealed record VmEnd(int Status, string Reason, string Kind);
