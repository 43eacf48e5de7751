<#
.SYNOPSIS
    Stops and removes the Windows service "Picket" and its binary.

.DESCRIPTION
    Run from an elevated PowerShell (Administrator). `picket service uninstall` stops the
    service (waiting up to 30 s) and deletes it; then %ProgramFiles%\Picket is removed.
    %ProgramData%\Picket (config, alert log, state, logs) is kept for the analysts unless
    -Purge is given.

.PARAMETER Purge
    Also delete %ProgramData%\Picket, including the alert log.
#>
[CmdletBinding()]
param(
    [switch]$Purge
)

$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script from an elevated PowerShell (Administrator).'
}

$installDir = Join-Path $env:ProgramFiles 'Picket'
$dataDir = Join-Path $env:ProgramData 'Picket'
$exe = Join-Path $installDir 'picket.exe'

if (Get-Service -Name 'Picket' -ErrorAction SilentlyContinue) {
    if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) {
        throw "The Picket service exists but $exe is missing; remove it with: sc.exe delete Picket"
    }
    & $exe service uninstall
    if ($LASTEXITCODE -ne 0) { throw "picket service uninstall failed ($LASTEXITCODE)" }
}

if (Test-Path -LiteralPath $installDir) {
    Remove-Item -LiteralPath $installDir -Recurse -Force
}
if ($Purge -and (Test-Path -LiteralPath $dataDir)) {
    Remove-Item -LiteralPath $dataDir -Recurse -Force
    Write-Host "Removed $dataDir"
} else {
    Write-Host "Kept $dataDir (config, alerts, logs); pass -Purge to remove it."
}
Write-Host 'Picket is uninstalled.'
