# certvault agent installer for Windows: a virtual environment with the agent wheel, enrolment, the service.
#   .\certvault-agent\install.ps1 -Server https://certvault.example:8443 -Token cvat_... -CaFile certvault-ca.pem
# Run in PowerShell as Administrator; needs Python 3.11 or later (py launcher or python on PATH).
param(
  [Parameter(Mandatory = $true)][string]$Server,
  [Parameter(Mandatory = $true)][string]$Token,
  [Parameter(Mandatory = $true)][string]$CaFile,
  [string]$Prefix = "$env:ProgramFiles\certvault-agent",
  [string]$StateDir = "$env:ProgramData\certvault-agent"
)
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$wheel = Get-ChildItem -Path $here -Filter 'certvault_agent-*.whl' | Select-Object -First 1
py -3 -m venv $Prefix
& "$Prefix\Scripts\pip.exe" install --quiet $wheel.FullName
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
icacls $StateDir /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null
& "$Prefix\Scripts\certvault-agent.exe" enroll --server $Server --token $Token --ca-file $CaFile --dir $StateDir
& "$Prefix\Scripts\certvault-agent.exe" install-service --dir $StateDir
Write-Output "certvault-agent is installed: $Prefix\Scripts\certvault-agent.exe status --dir $StateDir"
