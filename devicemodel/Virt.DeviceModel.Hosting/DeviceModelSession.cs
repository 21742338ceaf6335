using Virt.DeviceModelKit.Attach;
using Virt.DeviceModelKit.Exits;
using Virt.Shared.Control;
using Virt.Shared.Routing;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// One attach of a device model built from Virt.Devices devices: attach, build the devices on a
/// bus (restoring state the monitor kept from a device model this one replaces), claim their
/// ranges, serve exits, save device state and report the devices' counters on request, until the monitor says Shutdown or goes
/// away. The protocol is the kit's (<see cref="DeviceModelAttachment"/>); this is only the wiring.
/// </summary>
/// <param name="name">The name the model attaches with (what `virt list` and the monitor's messages show).</param>
/// <param name="observer">Sees each completion before the monitor is rung (test models that misbehave on purpose); null for honest models.</param>
public sealed class DeviceModelSession(string socketPath, string name, DeviceSetFactory devices, ICompletionObserver? observer = null)
{
    public async Task<int> RunAsync()
    {
        await using DeviceModelAttachment attachment = await DeviceModelAttachment.ConnectAsync(socketPath, name);
        var bus = new DeviceBus();
        DeviceSet set = devices(bus, new DeviceModelHost(attachment.Irq, attachment.Memory), attachment.RamSize);
        try
        {
            DeviceStateTransfer.Restore(bus, attachment.SavedState);
            if (attachment.CrashSnapshot) DeviceStateTransfer.RecoverAfterCrash(bus);
            unsafe { bus.CrashStateArea = attachment.CrashStateArea; }
            bus.SnapshotForCrash();
            // Each range with the policy its device declares, as far as the monitor accepted the features.
            foreach (var (range, flags, device) in bus.Claims(attachment.AllowedClaimFlags).ToList())
                await attachment.ClaimAsync((AddressSpace)range.Space, range.Start, range.Length, flags, device);
            // Side-effect-free regions (protocol 1.5): an older monitor cannot take them, and the devices work without them.
            foreach (var (range, flags, value, device) in bus.RegionClaims().ToList())
            {
                if (attachment.TakesRegions) await attachment.ClaimAsync((AddressSpace)range.Space, range.Start, range.Length, flags, device, value);
                else Console.Error.WriteLine($"{name}: the monitor does not take side-effect-free regions (control protocol 1.{Protocol.RegionsMinor}): {device}'s {range} left out");
            }
            bus.Table = attachment.InTable;
            bus.RefreshCachedReads();

            // Serve before Ready: the guest may exit to us as soon as the monitor sees it.
            attachment.StartServing(bus, bus.Confirmation, observer);
            set.Start(attachment.KeepRunning);
            await attachment.ReadyAsync();
            // On SaveState the guest is paused: what the console holds goes out first, then the devices' state.
            await attachment.ServeControlAsync(() =>
            {
                set.Flush();
                return DeviceStateTransfer.Save(bus);
            }, () => DeviceCounterReport.Collect(bus), states => DeviceStateTransfer.TryRestoreAll(bus, states));
            return 0;
        }
        finally
        {
            attachment.StopServing();
            set.Dispose();
        }
    }
}
