<#
.SYNOPSIS
    Builds a kbgap machine report for this Windows machine and prints it, or POSTs it to a kbgap
    server.

.DESCRIPTION
    The report (documented by schemas/machine-report.schema.json) carries what kbgap needs to name
    the machine's exact MSRC products and its missing KBs:
      - OS facts from the registry (CurrentBuild, UBR, InstallationType, DisplayVersion, EditionID,
        ProductName): the build and installation type decide the product, so Server 2025 is never
        mistaken for Windows 11 24H2 and Server Core is told apart from a full installation;
      - installed KBs from Get-HotFix AND from the servicing (CBS) package list, because Get-HotFix
        misses cumulative updates installed as Package_for_RollupFix (their KB is only in the
        package's InstallLocation);
      - software from the .NET Framework release key and both uninstall keys (64- and 32-bit);
      - hotpatch enrollment: the "Hotpatch Enrollment Package" targeting entry that Windows Server
        Azure Edition / Azure Arc enrollment writes (Update\TargetingInfo\DynamicInstalled\
        Hotpatch.*), or the Windows Autopatch policy Update/AllowRebootlessUpdates = 1 (Windows 11
        Enterprise 24H2+), and in both cases virtualization-based security running, without which
        Windows offers the machine cumulative updates instead of hotpatches;
      - the WinRE image version, which decides Safe OS / WinRE dynamic updates (KB5034441,
        KB5042320 style): the registry value WinREVersion that current servicing writes, else the
        image that `reagentc /info` names, read with `dism /Get-ImageInfo` (Version + ServicePack
        Build), Microsoft's documented way to check the WinRE image version. Reading the image needs
        an elevated prompt; without one winreVersion is null;
      - machine tags (machineTags): the -Tags parameter, plus the device tag Defender for Endpoint
        reads from the registry (value Group under HKLM\SOFTWARE\Policies\Microsoft\Windows
        Advanced Threat Protection\DeviceTagging), so machines tagged for Defender carry the same
        tag here.
    Runs on Windows PowerShell 5.1 and PowerShell 7; reads only, changes nothing.

.PARAMETER Url
    Base URL of a kbgap server. When given, the report is POSTed to <Url>/api/inventory.

.PARAMETER Token
    Bearer token for the server (sent as "Authorization: Bearer <Token>").

.PARAMETER Id
    Optional machine id (40 lowercase hexadecimal characters); the server assigns one otherwise.

.PARAMETER Hotpatch
    Report the machine as hotpatch-enrolled even when no enrollment is visible on the machine
    (enrollment managed only on the Azure side).

.PARAMETER Tags
    Tags for the machine (a site, a role, an owner: -Tags 'site:Berlin','finance'), sent as
    machineTags beside the registry device tag. At most 50 tags of at most 200 characters each.

.EXAMPLE
    .\kbgap-collect.ps1 > report.json ; kbgap scan report.json

.EXAMPLE
    .\kbgap-collect.ps1 -Tags 'site:Berlin','finance' -Url https://kbgap.contoso.com -Token $env:KBGAP_TOKEN

.EXAMPLE
    .\kbgap-collect.ps1 -Url https://kbgap.contoso.com -Token $env:KBGAP_TOKEN
#>
[CmdletBinding()]
param(
    [string] $Url,
    [string] $Token,
    [ValidatePattern('^[0-9a-f]{40}$')]
    [string] $Id,
    [switch] $Hotpatch,
    [ValidateCount(0, 50)]
    [ValidateLength(1, 200)]
    [string[]] $Tags
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$NtKey = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
$CbsKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages'
$NdpKey = 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full'
$DeviceTaggingKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows Advanced Threat Protection\DeviceTagging'
$UninstallKeys = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
)

function Get-RegValue([string] $Path, [string] $Name) {
    # A missing key or value is $null, not an error: older Windows lack UBR, DisplayVersion ….
    $item = Get-ItemProperty -Path $Path -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $item) { return $null }
    return $item.$Name
}

function Get-Cim([string] $Class) {
    if (Get-Command Get-CimInstance -ErrorAction SilentlyContinue) {
        return Get-CimInstance -ClassName $Class
    }
    return Get-WmiObject -Class $Class
}

function Get-OsVersion {
    # Windows 10+ keeps the NT version in CurrentMajor/MinorVersionNumber ("CurrentVersion" still
    # says 6.3 there for compatibility); older releases only have CurrentVersion.
    $major = Get-RegValue $NtKey 'CurrentMajorVersionNumber'
    $minor = Get-RegValue $NtKey 'CurrentMinorVersionNumber'
    if ($null -eq $major) {
        $parts = ([string](Get-RegValue $NtKey 'CurrentVersion')).Split('.')
        $major = $parts[0]; $minor = $parts[1]
    }
    $build = Get-RegValue $NtKey 'CurrentBuild'
    if ($null -eq $build) { $build = Get-RegValue $NtKey 'CurrentBuildNumber' }
    return '{0}.{1}.{2}' -f $major, $minor, $build
}

function Get-InstallationType {
    $type = Get-RegValue $NtKey 'InstallationType'
    switch ($type) {
        'Client' { return 'Client' }
        'Server' { return 'Server' }
        'Server Core' { return 'Server Core' }
    }
    # No InstallationType before Windows 7 / Server 2008 R2: ProductType 1 is a workstation.
    $os = Get-Cim 'Win32_OperatingSystem'
    if ($os.ProductType -eq 1) { return 'Client' }
    return 'Server'
}

function Get-Architecture {
    # The OS architecture, not the process's: a 32-bit PowerShell on 64-bit Windows must say x64.
    $arch = $env:PROCESSOR_ARCHITEW6432
    if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
    switch ($arch) {
        'AMD64' { return 'x64' }
        'ARM64' { return 'arm64' }
        'x86' { return 'x86' }
    }
    throw "unknown processor architecture '$arch'"
}

function Get-ComputerDnsName {
    $cs = Get-Cim 'Win32_ComputerSystem'
    $name = $cs.DNSHostName
    if (-not $name) { $name = $env:COMPUTERNAME }
    if ($cs.PartOfDomain -and $cs.Domain) { return "$name.$($cs.Domain)" }
    return $name
}

function Get-InstalledKbs {
    $kbs = New-Object 'System.Collections.Generic.SortedSet[string]'
    foreach ($fix in @(Get-HotFix -ErrorAction SilentlyContinue)) {
        if ($fix.HotFixID -match '^KB(\d+)') { [void]$kbs.Add($Matches[1]) }
    }
    # Cumulative updates (LCUs) appear as Package_for_RollupFix~…; their KB is in InstallLocation.
    # CurrentState 112 means installed; anything else is staged, pending or superseded.
    foreach ($pkg in @(Get-ChildItem -Path $CbsKey -ErrorAction SilentlyContinue)) {
        $name = $pkg.PSChildName
        if (-not ($name -like 'Package_for_RollupFix*' -or $name -like 'Package_for_KB*')) { continue }
        $props = Get-ItemProperty -Path $pkg.PSPath -ErrorAction SilentlyContinue
        if ($null -eq $props -or $null -eq $props.PSObject.Properties['CurrentState']) { continue }
        if ($props.CurrentState -ne 112) { continue }
        $text = $name
        if ($props.PSObject.Properties['InstallLocation']) { $text = "$text $($props.InstallLocation)" }
        if ($text -match 'KB(\d{6,8})') { [void]$kbs.Add($Matches[1]) }
    }
    return @($kbs)
}

function Get-DotNetFramework {
    # The Release DWORD names the .NET Framework 4.x version (Microsoft's documented minimums).
    $release = Get-RegValue $NdpKey 'Release'
    if ($null -eq $release) { return @() }
    $names = @(
        @(533320, '4.8.1'), @(528040, '4.8'), @(461808, '4.7.2'), @(461308, '4.7.1'), @(460798, '4.7'),
        @(394802, '4.6.2'), @(394254, '4.6.1'), @(393295, '4.6'), @(379893, '4.5.2'), @(378675, '4.5.1'),
        @(378389, '4.5')
    )
    foreach ($pair in $names) {
        if ($release -ge $pair[0]) {
            return @([ordered]@{
                vendor  = 'Microsoft Corporation'
                name    = "Microsoft .NET Framework $($pair[1])"
                version = [string](Get-RegValue $NdpKey 'Version')
            })
        }
    }
    return @()
}

function Get-Software {
    $seen = @{}
    $list = New-Object System.Collections.ArrayList
    foreach ($entry in @(Get-ItemProperty -Path $UninstallKeys -ErrorAction SilentlyContinue)) {
        $props = $entry.PSObject.Properties
        if (-not $props['DisplayName'] -or -not $entry.DisplayName) { continue }
        # Updates of other programs list themselves under their parent: not software of their own.
        if ($props['ParentKeyName'] -and $entry.ParentKeyName) { continue }
        $vendor = if ($props['Publisher']) { [string]$entry.Publisher } else { '' }
        $version = if ($props['DisplayVersion']) { [string]$entry.DisplayVersion } else { $null }
        $key = "$vendor|$($entry.DisplayName)|$version"
        if ($seen.ContainsKey($key)) { continue }
        $seen[$key] = $true
        [void]$list.Add([ordered]@{ vendor = $vendor; name = [string]$entry.DisplayName; version = $version })
    }
    foreach ($net in Get-DotNetFramework) { [void]$list.Add($net) }
    return @($list)
}

function Test-VbsRunning {
    # Win32_DeviceGuard.VirtualizationBasedSecurityStatus: 2 = running (Microsoft's documented check).
    try {
        $params = @{ Namespace = 'root\Microsoft\Windows\DeviceGuard'; ClassName = 'Win32_DeviceGuard'; ErrorAction = 'Stop' }
        if (Get-Command Get-CimInstance -ErrorAction SilentlyContinue) { $dg = Get-CimInstance @params }
        else { $dg = Get-WmiObject -Namespace $params.Namespace -Class $params.ClassName -ErrorAction Stop }
        return ($null -ne $dg -and $dg.VirtualizationBasedSecurityStatus -eq 2)
    } catch {
        return $false
    }
}

function Get-HotpatchEnrolled {
    if ($Hotpatch) { return $true }
    # Windows Server Azure Edition / Arc: the enrollment package registers a targeting entry.
    $targeting = "$NtKey\Update\TargetingInfo\DynamicInstalled"
    $enrolled = @(Get-ChildItem -Path $targeting -ErrorAction SilentlyContinue |
        Where-Object { $_.PSChildName -like 'Hotpatch.*' }).Count -gt 0
    # Windows 11 Enterprise (Autopatch quality update policy): Policy CSP Update/AllowRebootlessUpdates.
    $policy = Get-RegValue 'HKLM:\SOFTWARE\Microsoft\PolicyManager\current\device\Update' 'AllowRebootlessUpdates'
    if ($policy -eq 1) { $enrolled = $true }
    return ($enrolled -and (Test-VbsRunning))
}

function Get-WinReVersion {
    # Current servicing records the WinRE image version beside the OS version.
    $registered = Get-RegValue $NtKey 'WinREVersion'
    if ($registered -match '^\d+\.\d+\.\d+\.\d+$') { return [string]$registered }
    # Otherwise read the image itself: reagentc names it, DISM reads its version without mounting.
    try {
        $info = & reagentc.exe /info 2>$null
        $location = $null
        foreach ($line in @($info)) {
            if ($line -match '(\\\\\?\\GLOBALROOT\\device\\\S+)') { $location = $Matches[1]; break }
        }
        if (-not $location) { return $null }
        $image = Join-Path $location 'winre.wim'
        $out = & dism.exe /English /Get-ImageInfo "/ImageFile:$image" /Index:1 2>$null
        $version = $null; $spBuild = $null
        foreach ($line in @($out)) {
            if ($line -match '^\s*Version\s*:\s*(\d+\.\d+\.\d+)') { $version = $Matches[1] }
            elseif ($line -match '^\s*ServicePack Build\s*:\s*(\d+)') { $spBuild = $Matches[1] }
        }
        if ($version -and $null -ne $spBuild) { return "$version.$spBuild" }
    } catch {
        # Not elevated, WinRE disabled, or no DISM: the version stays unknown.
    }
    return $null
}

function Get-MachineTags {
    # -Tags first, then Defender's registry device tag; the server trims them and drops repeats.
    $list = New-Object System.Collections.ArrayList
    foreach ($tag in @($Tags)) {
        if ($tag -and $tag.Trim()) { [void]$list.Add($tag.Trim()) }
    }
    $defender = Get-RegValue $DeviceTaggingKey 'Group'
    if ($defender -and ([string]$defender).Trim()) { [void]$list.Add(([string]$defender).Trim()) }
    return @($list)
}

function New-Report {
    $ubr = Get-RegValue $NtKey 'UBR'
    $displayVersion = Get-RegValue $NtKey 'DisplayVersion'
    if ($null -eq $displayVersion) { $displayVersion = Get-RegValue $NtKey 'ReleaseId' }
    $osName = (Get-Cim 'Win32_OperatingSystem').Caption
    if (-not $osName) {
        $osName = '{0} ({1})' -f (Get-RegValue $NtKey 'ProductName'), (Get-RegValue $NtKey 'EditionID')
    }
    $report = [ordered]@{}
    if ($Id) { $report.id = $Id }
    $report.computerDnsName = Get-ComputerDnsName
    $report.osName = [string]$osName
    $report.osVersion = Get-OsVersion
    $report.ubr = if ($null -ne $ubr) { [long]$ubr } else { $null }
    $report.installationType = Get-InstallationType
    $report.architecture = Get-Architecture
    $report.displayVersion = $displayVersion
    $report.installedKbs = @(Get-InstalledKbs)
    $report.software = @(Get-Software)
    $report.hotpatch = [bool](Get-HotpatchEnrolled)
    $report.winreVersion = Get-WinReVersion
    $report.machineTags = @(Get-MachineTags)
    $report.lastSeen = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
    return $report
}

$json = New-Report | ConvertTo-Json -Depth 5
if ($Url) {
    if (-not $Token) { throw '-Token is required with -Url' }
    # Windows PowerShell 5.1 defaults to TLS 1.0 on older systems.
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    $body = [System.Text.Encoding]::UTF8.GetBytes($json)
    Invoke-RestMethod -Method Post -Uri ($Url.TrimEnd('/') + '/api/inventory') -Body $body `
        -ContentType 'application/json; charset=utf-8' -Headers @{ Authorization = "Bearer $Token" } | Out-Null
    Write-Host "kbgap: report sent to $Url"
} else {
    $json
}
