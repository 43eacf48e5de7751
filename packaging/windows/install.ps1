<#
.SYNOPSIS
    Installs Picket as the Windows service "Picket" and starts it.

.DESCRIPTION
    Run from an elevated PowerShell (Administrator). Steps:
      1. copies picket.exe to %ProgramFiles%\Picket\picket.exe;
      2. creates %ProgramData%\Picket (config, alert log, state\, logs\) readable and
         writable only by SYSTEM and Administrators, and puts the config there unless
         one already exists (local edits survive a reinstall);
      3. checks the config with `picket check-config`;
      4. registers the service with `picket service install` (auto start, LocalSystem,
         recovery actions: restart after 5 s, 10 s, then 30 s) and starts it with
         `picket service start`.
    The service runs `picket service run --config %ProgramData%\Picket\picket.toml`
    and logs to %ProgramData%\Picket\logs\picket.log.

.PARAMETER Binary
    The picket.exe to install. Default: picket.exe next to this script.

.PARAMETER Config
    The picket.toml to install when %ProgramData%\Picket\picket.toml does not exist yet.
    Default: picket.toml next to this script (the release zip ships the default config).

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Binary .\picket.exe
#>
[CmdletBinding()]
param(
    [string]$Binary = (Join-Path $PSScriptRoot 'picket.exe'),
    [string]$Config = (Join-Path $PSScriptRoot 'picket.toml')
)

$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script from an elevated PowerShell (Administrator).'
}
if (-not (Test-Path -LiteralPath $Binary -PathType Leaf)) {
    throw "picket.exe not found at '$Binary' (pass -Binary)."
}

$installDir = Join-Path $env:ProgramFiles 'Picket'
$dataDir = Join-Path $env:ProgramData 'Picket'
$exe = Join-Path $installDir 'picket.exe'
$configPath = Join-Path $dataDir 'picket.toml'

# An older service must be stopped before its binary can be replaced.
if (Get-Service -Name 'Picket' -ErrorAction SilentlyContinue) {
    Write-Host 'Stopping and removing the existing Picket service'
    & $Binary service uninstall
    if ($LASTEXITCODE -ne 0) { throw "picket service uninstall failed ($LASTEXITCODE)" }
}

New-Item -ItemType Directory -Force -Path $installDir | Out-Null
Copy-Item -LiteralPath $Binary -Destination $exe -Force

foreach ($dir in @($dataDir, (Join-Path $dataDir 'state'), (Join-Path $dataDir 'logs'), (Join-Path $dataDir 'conf.d'))) {
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
}
# Only SYSTEM and Administrators may read or change the config, alerts and logs.
& icacls.exe $dataDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $dataDir failed ($LASTEXITCODE)" }

if (-not (Test-Path -LiteralPath $configPath)) {
    if (-not (Test-Path -LiteralPath $Config -PathType Leaf)) {
        throw "No config at $configPath and none to install at '$Config' (pass -Config)."
    }
    Copy-Item -LiteralPath $Config -Destination $configPath
}

& $exe check-config $configPath
if ($LASTEXITCODE -ne 0) { throw "the config $configPath has errors (see above)" }

& $exe service install --config $configPath
if ($LASTEXITCODE -ne 0) { throw "picket service install failed ($LASTEXITCODE)" }
& $exe service start
if ($LASTEXITCODE -ne 0) { throw "picket service start failed ($LASTEXITCODE)" }

Get-Service -Name 'Picket' | Format-Table -AutoSize -Property @('Name', 'Status', 'StartType')
& sc.exe qfailure Picket
Write-Host "Picket is running. Logs: $(Join-Path $dataDir 'logs\picket.log'); alerts: $(Join-Path $dataDir 'alerts.jsonl')"
