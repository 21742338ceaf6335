# Mirrors the README's commands for pwsh users (the project's CI uses bash: .ci/run).
param(
    [ValidateSet("build", "test", "demo", "linux")]
    [string]$Target = "build"
)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
switch ($Target) {
    "build" { dotnet build Virt.sln -c Release }
    "test"  { dotnet test Virt.sln -c Release }
    "demo"  { dotnet run --project monitor/Virt.Monitor -c Release -- run --demo }
    "linux" { bash scripts/boot-linux.sh }
}
