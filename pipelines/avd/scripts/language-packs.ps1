# Adds the language packs AVD users need, then sets the system locale list.
$ErrorActionPreference = 'Stop'
$languages = @('en-US', 'de-DE')
foreach ($lang in $languages) {
    Write-Host "Installing language $lang"
    Install-Language -Language $lang -CopyToSettings:$false
}
Set-WinUserLanguageList -LanguageList $languages -Force
exit 0
