# Installs the FSLogix agent used for AVD profile containers.
$ErrorActionPreference = 'Stop'
$work = 'C:\BuildArtifacts\fslogix'
New-Item -ItemType Directory -Force -Path $work | Out-Null
Write-Host "Downloading FSLogix"
Invoke-WebRequest -Uri 'https://aka.ms/fslogix_download' -OutFile "$work\fslogix.zip" -UseBasicParsing
Expand-Archive -Path "$work\fslogix.zip" -DestinationPath $work -Force
Write-Host "Installing FSLogix"
$p = Start-Process -FilePath "$work\x64\Release\FSLogixAppsSetup.exe" -ArgumentList '/install', '/quiet', '/norestart' -Wait -PassThru
if ($p.ExitCode -ne 0 -and $p.ExitCode -ne 3010) { throw "FSLogix setup exited with $($p.ExitCode)" }
Write-Host "FSLogix installed"
