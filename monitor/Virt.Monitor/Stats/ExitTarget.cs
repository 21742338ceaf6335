namespace Virt.Monitor.Stats;

/// <summary>Where an exit was handled.</summary>
public enum ExitTarget
{
    Monitor,
    DeviceModel,
    Unclaimed,
}
