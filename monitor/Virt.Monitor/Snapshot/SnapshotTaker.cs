using System.Diagnostics;
using Virt.Cpu.Memory;
using Virt.Devices.State;
using Virt.Monitor.Attachment;
using Virt.Monitor.Routing;
using Virt.Monitor.Stats;
using Virt.Monitor.Vcpu;
using Virt.Monitor.Vm;
using Virt.Shared.Control;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// `virt save`: parks the VCPU at an instruction boundary (the pause a swap takes), has every device
/// model drain its batched writes and save its devices, captures the CPU, the monitor's platform
/// devices, the guest clock and the run's counters, and writes them with guest RAM to a file. A save
/// that fails at any step leaves the VM as it was (nothing of it is changed by a save) and no file.
/// Control-socket tasks call it; one save at a time.
/// </summary>
public sealed class SnapshotTaker(Cpu.Cpu cpu, PcPlatform platform, PhysicalMemory memory, GuestRam ram, AttachmentManager manager,
    VcpuGate gate, ExitRouter router, ExitStatistics stats, Action<string> stop)
{
    private readonly SemaphoreSlim _one = new(1, 1);

    public async Task<RequestResult> SaveAsync(SaveRequest request)
    {
        if (!Path.IsPathFullyQualified(request.Path)) return new RequestResult(false, 0, $"the snapshot path must be absolute: '{request.Path}'");
        if (!await _one.WaitAsync(TimeSpan.Zero)) return new RequestResult(false, 0, "another save is under way");
        try
        {
            var total = Stopwatch.StartNew();
            SnapshotManifest manifest;
            TimeSpan paused;
            long length, ramWritten;
            using (await gate.PauseAsync())
            {
                var pause = Stopwatch.StartNew();
                if (gate.State is VcpuRunState.Ended) return new RequestResult(false, 0, "the VM has ended: nothing was saved");
                if (gate.StallReason is { } stalled) return new RequestResult(false, 0, $"the guest is stalled ({stalled}): nothing was saved");
                try
                {
                    List<DeviceModelImage> models = await manager.SaveAllAsync();
                    platform.Chipset.SettlePvEoi();
                    manifest = Capture(models);
                    (length, ramWritten) = SnapshotFile.Write(request.Path, manifest, ram);
                }
                catch (Exception e) when (e is SnapshotException or IOException or UnauthorizedAccessException or DeviceStateException)
                {
                    return new RequestResult(false, 0, $"save to {request.Path} failed: {e.Message}; the VM goes on as it was");
                }
                paused = pause.Elapsed;
                // Ended before the hold is let go: the guest runs not one more instruction after the saved one.
                if (request.Stop) stop($"stopped after saving to {request.Path}");
            }
            total.Stop();
            string what = $"saved {request.Path}: {length / 1048576.0:F1} MiB file, {ramWritten / 1048576.0:F1} MiB of it data (the rest zero pages left as holes) ({ram.Size >> 20} MiB RAM, {manifest.DeviceModels.Count} device model(s), "
                + $"{manifest.DeviceModels.Sum(m => m.States.Count) + manifest.Platform.Devices.Count} device states); save {total.Elapsed.TotalMilliseconds:F0} ms, guest paused {paused.TotalMilliseconds:F0} ms";
            return new RequestResult(true, 0, what + (request.Stop ? "; the VM is stopping" : "; the VM goes on"));
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>With the VCPU parked (or not started) and the device models' states in hand: the rest of the machine.</summary>
    public SnapshotManifest Capture(List<DeviceModelImage> models) => new()
    {
        RamSize = ram.Size,
        Machine = new MachineImage
        {
            Clock = platform.Clock.IsVirtual ? "instructions" : "host",
            NanosecondsPerInstruction = platform.Clock.NanosecondsPerInstruction,
            Apic = platform.LocalApic is not null,
            TscHz = cpu.TscHz,
            CpuEngine = cpu.Engine.ToString(),
        },
        Cpu = CpuImage.From(cpu.CaptureSnapshot()),
        Platform = new PlatformImage
        {
            Devices = platform.Devices.OfType<IStatefulDevice>()
                .Select(d => new DeviceStateImage { Device = ((Virt.Devices.Bus.IDevice)d).Name, Blob = d.SaveState() }).ToList(),
            ClockTimestamp = platform.Clock.GetTimestamp(),
            A20Enabled = memory.A20Enabled,
        },
        DeviceModels = models,
        Counters = new RunCountersImage
        {
            Instructions = cpu.InstructionsRetired,
            UnclaimedAccesses = router.UnclaimedAccesses,
            Exits = stats.TotalExits,
            GuestNanoseconds = platform.Clock.GetTimestamp(),
        },
        SavedBy = $"virt (pid {Environment.ProcessId})",
        SavedAtUtc = DateTime.UtcNow,
    };
}
