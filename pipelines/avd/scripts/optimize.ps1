# Applies the AVD optimisations that are safe for multi-session hosts.
$ErrorActionPreference = 'Stop'
Write-Host "Disabling scheduled tasks not needed on session hosts"
foreach ($task in @('\Microsoft\Windows\Defrag\ScheduledDefrag', '\Microsoft\Windows\Maps\MapsUpdateTask')) {
    Disable-ScheduledTask -TaskName $task -ErrorAction SilentlyContinue | Out-Null
}
Write-Host "Setting time zone redirection"
New-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' -Name 'fEnableTimeZoneRedirection' -Value 1 -PropertyType DWORD -Force | Out-Null
