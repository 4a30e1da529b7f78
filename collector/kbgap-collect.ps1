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
    Base URL of a kbgap server. When given, the report is POSTed to <Url>/api/inventory. With
    -Install, the server the scheduled task reports to.

.PARAMETER Token
    Bearer token for the server (sent as "Authorization: Bearer <Token>"). Use an ingest-only
    token: kbgap token --roles Inventory.Submit (it can post reports and nothing else).

.PARAMETER Id
    Optional machine id (40 lowercase hexadecimal characters); the server assigns one otherwise.

.PARAMETER Hotpatch
    Report the machine as hotpatch-enrolled even when no enrollment is visible on the machine
    (enrollment managed only on the Azure side).

.PARAMETER Tags
    Tags for the machine (a site, a role, an owner: -Tags 'site:Berlin','finance'), sent as
    machineTags beside the registry device tag. At most 50 tags of at most 200 characters each.
.PARAMETER Install
    Deploy the collector on this machine (needs an elevated prompt, or SYSTEM as under GPO or
    Intune): copies this script to %ProgramFiles%\kbgap, keeps -Url and -Token in
    %ProgramData%\kbgap\collector.json (an ACL that only SYSTEM and Administrators can read; the
    token also encrypted with DPAPI for the machine), registers the event log source
    "kbgap-collect" in the Application log, and registers the scheduled task \kbgap\kbgap
    collector, running as SYSTEM daily at -At plus a random delay of up to -RandomDelayHours.
    A first report is sent at once when the settings are new or changed; running -Install
    again with the same settings (a GPO startup script does, at every boot) changes nothing else.

.PARAMETER Uninstall
    Remove the scheduled task, the stored settings, the installed script and the event source.

.PARAMETER Scheduled
    What the scheduled task runs: read the stored settings, send the report, log to the event
    log. Not meant to be typed.

.PARAMETER At
    With -Install: the daily start time (default 09:00 local time).

.PARAMETER RandomDelayHours
    With -Install: the random delay added to -At, so a fleet does not report all at once
    (default 4).

.PARAMETER MaxAttempts
    Attempts to send the report before giving up until the next run (default 6). Between
    attempts the collector waits 30 s, 60 s, 120 s … (at most 15 minutes, with jitter), or
    what the server's Retry-After asks for. Refusals that repeating cannot fix (400, 401, 403,
    413) are not retried.

.PARAMETER AllowHttp
    Accept an http:// URL with -Install or -Url (the token then crosses the network in clear
    text). Without it, only https:// and http://localhost are accepted.

.EXAMPLE
    .\kbgap-collect.ps1 > report.json ; kbgap scan report.json

.EXAMPLE
    .\kbgap-collect.ps1 -Tags 'site:Berlin','finance' -Url https://kbgap.contoso.com -Token $env:KBGAP_TOKEN

.EXAMPLE
    .\kbgap-collect.ps1 -Url https://kbgap.contoso.com -Token $env:KBGAP_TOKEN

.EXAMPLE
    .\kbgap-collect.ps1 -Install -Url https://kbgap.contoso.com -Token $token

.EXAMPLE
    .\kbgap-collect.ps1 -Uninstall
#>
[CmdletBinding(DefaultParameterSetName = 'Collect')]
param(
    [Parameter(ParameterSetName = 'Collect')]
    [Parameter(ParameterSetName = 'Install', Mandatory = $true)]
    [string] $Url,
    [Parameter(ParameterSetName = 'Collect')]
    [Parameter(ParameterSetName = 'Install', Mandatory = $true)]
    [string] $Token,
    [ValidatePattern('^[0-9a-f]{40}$')]
    [string] $Id,
    [switch] $Hotpatch,
    [ValidateCount(0, 50)]
    [ValidateLength(1, 200)]
    [string[]] $Tags,
    [Parameter(ParameterSetName = 'Install', Mandatory = $true)]
    [switch] $Install,
    [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)]
    [switch] $Uninstall,
    [Parameter(ParameterSetName = 'Scheduled', Mandatory = $true)]
    [switch] $Scheduled,
    [Parameter(ParameterSetName = 'Install')]
    [ValidatePattern('^([01]?[0-9]|2[0-3]):[0-5][0-9]$')]
    [string] $At = '09:00',
    [Parameter(ParameterSetName = 'Install')]
    [ValidateRange(0, 23)]
    [int] $RandomDelayHours = 4,
    [ValidateRange(1, 20)]
    [int] $MaxAttempts = 6,
    [switch] $AllowHttp
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

# ----- sending, with retries -----

$EventSource = 'kbgap-collect'
$TaskPath = '\kbgap\'
$TaskName = 'kbgap collector'
$InstallDir = Join-Path $env:ProgramFiles 'kbgap'
$ConfigDir = Join-Path $env:ProgramData 'kbgap'
$ConfigFile = Join-Path $ConfigDir 'collector.json'

function Write-CollectorEvent([int] $EventId, [string] $Type, [string] $Message) {
    # The Application log, source kbgap-collect (registered by -Install). 1000 sent, 1001 retry,
    # 1002 failed, 1003 installed, 1004 uninstalled.
    if ($Scheduled -or $Type -eq 'Information') { Write-Verbose $Message } else { Write-Warning $Message }
    try {
        if ([System.Diagnostics.EventLog]::SourceExists($EventSource)) {
            [System.Diagnostics.EventLog]::WriteEntry($EventSource, $Message, $Type, $EventId)
        }
    } catch {
        # Not elevated enough to look up sources: the message went to the verbose stream.
    }
}

function Test-AcceptedUrl([string] $Address) {
    $uri = $null
    if (-not [Uri]::TryCreate($Address, [UriKind]::Absolute, [ref]$uri)) { throw "-Url '$Address' is not an absolute URL" }
    if ($uri.Scheme -eq 'https') { return }
    if ($uri.Scheme -eq 'http' -and ($uri.IsLoopback -or $AllowHttp)) { return }
    throw "-Url '$Address' is not https: the token would cross the network in clear text (add -AllowHttp to accept that)"
}

function Get-StatusCode($Response) {
    if ($null -eq $Response) { return 0 }
    try { return [int]$Response.StatusCode } catch { return 0 }
}

function Get-RetryAfterSeconds($Response) {
    # Windows PowerShell 5.1 gives an HttpWebResponse (headers by name); PowerShell 7 an
    # HttpResponseMessage (a parsed RetryAfter). Retry-After is seconds or an HTTP date.
    if ($null -eq $Response) { return $null }
    $value = $null
    try {
        if ($Response.Headers -is [System.Net.WebHeaderCollection]) {
            $value = $Response.Headers['Retry-After']
        } elseif ($null -ne $Response.Headers.RetryAfter) {
            $ra = $Response.Headers.RetryAfter
            if ($null -ne $ra.Delta) { return [int]$ra.Delta.TotalSeconds }
            if ($null -ne $ra.Date) { return [int][Math]::Max(0, ($ra.Date.UtcDateTime - [DateTime]::UtcNow).TotalSeconds) }
        }
    } catch {
        return $null
    }
    if (-not $value) { return $null }
    $seconds = 0
    if ([int]::TryParse($value, [ref]$seconds)) { return [Math]::Max(0, $seconds) }
    $date = [DateTime]::MinValue
    $styles = [Globalization.DateTimeStyles]::AdjustToUniversal -bor [Globalization.DateTimeStyles]::AssumeUniversal
    if ([DateTime]::TryParse($value, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$date)) {
        return [int][Math]::Max(0, ($date - [DateTime]::UtcNow).TotalSeconds)
    }
    return $null
}

function Send-Report([string] $Json, [string] $Address, [string] $Bearer) {
    # Returns $true once the server acknowledged the report. Network errors, 408, 429 and 5xx
    # are retried with exponential backoff (Retry-After wins when the server sends one);
    # other refusals are final: repeating the same report cannot change the answer.
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    $body = [System.Text.Encoding]::UTF8.GetBytes($Json)
    $target = $Address.TrimEnd('/') + '/api/inventory'
    $delay = 30
    for ($attempt = 1; $attempt -le $MaxAttempts; $attempt++) {
        try {
            Invoke-RestMethod -Method Post -Uri $target -Body $body -TimeoutSec 120 -UseBasicParsing `
                -ContentType 'application/json; charset=utf-8' -Headers @{ Authorization = "Bearer $Bearer" } | Out-Null
            Write-CollectorEvent 1000 'Information' "kbgap: report sent to $Address (attempt $attempt)"
            return $true
        } catch {
            $response = $null
            if ($_.Exception.PSObject.Properties['Response']) { $response = $_.Exception.Response }
            $status = Get-StatusCode $response
            $reason = $_.Exception.Message
            if ($status -ne 0 -and $status -ne 408 -and $status -ne 429 -and $status -lt 500) {
                Write-CollectorEvent 1002 'Error' "kbgap: the server refused the report (HTTP $status), not retrying: $reason"
                return $false
            }
            if ($attempt -eq $MaxAttempts) { break }
            $wait = Get-RetryAfterSeconds $response
            if ($null -eq $wait) { $wait = $delay + (Get-Random -Minimum 0 -Maximum ([Math]::Max(1, [int]($delay / 2)))) }
            if ($wait -gt 3600) {
                Write-CollectorEvent 1002 'Error' "kbgap: the server asks to wait $wait s (HTTP $status); giving up until the next run"
                return $false
            }
            Write-CollectorEvent 1001 'Warning' "kbgap: sending to $Address failed (attempt $attempt of $MaxAttempts, HTTP $status): $reason; retrying in $wait s"
            Start-Sleep -Seconds $wait
            $delay = [Math]::Min(900, $delay * 2)
        }
    }
    Write-CollectorEvent 1002 'Error' "kbgap: the report was not sent to $Address after $MaxAttempts attempts"
    return $false
}

# ----- deployment -----

function Assert-Elevated {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    if (-not ($identity.IsSystem -or $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator))) {
        throw 'run this from an elevated prompt (or as SYSTEM): it changes machine settings'
    }
}

function New-PrivateAcl([bool] $Container) {
    # SYSTEM and Administrators only, nothing inherited: users cannot read the token.
    if ($Container) { $acl = New-Object System.Security.AccessControl.DirectorySecurity }
    else { $acl = New-Object System.Security.AccessControl.FileSecurity }
    $acl.SetAccessRuleProtection($true, $false)
    $inherit = if ($Container) { 'ContainerInherit, ObjectInherit' } else { 'None' }
    foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {
        $who = New-Object System.Security.Principal.SecurityIdentifier $sid
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($who, 'FullControl', $inherit, 'None', 'Allow')
        $acl.AddAccessRule($rule)
    }
    $acl.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
    return $acl
}

function Protect-Secret([string] $Text) {
    Add-Type -AssemblyName System.Security
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($Text)
    $sealed = [System.Security.Cryptography.ProtectedData]::Protect($bytes, $null, [System.Security.Cryptography.DataProtectionScope]::LocalMachine)
    return [Convert]::ToBase64String($sealed)
}

function Unprotect-Secret([string] $Sealed) {
    Add-Type -AssemblyName System.Security
    $bytes = [System.Security.Cryptography.ProtectedData]::Unprotect([Convert]::FromBase64String($Sealed), $null, [System.Security.Cryptography.DataProtectionScope]::LocalMachine)
    return [System.Text.Encoding]::UTF8.GetString($bytes)
}

function Read-Settings {
    if (-not (Test-Path -LiteralPath $ConfigFile)) { return $null }
    $stored = Get-Content -LiteralPath $ConfigFile -Raw | ConvertFrom-Json
    return [ordered]@{ url = [string]$stored.url; token = (Unprotect-Secret ([string]$stored.token)) }
}

function Write-Settings([string] $Address, [string] $Bearer) {
    if (-not (Test-Path -LiteralPath $ConfigDir)) { New-Item -ItemType Directory -Path $ConfigDir | Out-Null }
    Set-Acl -LiteralPath $ConfigDir -AclObject (New-PrivateAcl $true)
    $json = [ordered]@{ url = $Address; token = (Protect-Secret $Bearer); storedAt = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ') } | ConvertTo-Json
    # Created inside the private folder, then given the same explicit ACL.
    [System.IO.File]::WriteAllText($ConfigFile, $json, (New-Object System.Text.UTF8Encoding($false)))
    Set-Acl -LiteralPath $ConfigFile -AclObject (New-PrivateAcl $false)
}

function Install-Collector {
    Assert-Elevated
    Test-AcceptedUrl $Url
    if (-not $PSCommandPath) { throw '-Install needs the script as a file (run it with -File)' }
    if (-not [System.Diagnostics.EventLog]::SourceExists($EventSource)) {
        [System.Diagnostics.EventLog]::CreateEventSource($EventSource, 'Application')
    }
    if (-not (Test-Path -LiteralPath $InstallDir)) { New-Item -ItemType Directory -Path $InstallDir | Out-Null }
    $installed = Join-Path $InstallDir 'kbgap-collect.ps1'
    if ([IO.Path]::GetFullPath($PSCommandPath) -ne [IO.Path]::GetFullPath($installed)) {
        Copy-Item -LiteralPath $PSCommandPath -Destination $installed -Force
    }
    $previous = $null
    try { $previous = Read-Settings } catch { $previous = $null }
    $changed = ($null -eq $previous) -or ($previous.url -ne $Url) -or ($previous.token -ne $Token)
    if ($changed) { Write-Settings $Url $Token }

    $powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$installed`" -Scheduled -MaxAttempts $MaxAttempts"
    if ($Hotpatch) { $arguments += ' -Hotpatch' }
    if ($Tags) { $arguments += ' -Tags ' + (($Tags | ForEach-Object { "'" + ($_ -replace "'", "''") + "'" }) -join ',') }
    if ($AllowHttp) { $arguments += ' -AllowHttp' }
    $action = New-ScheduledTaskAction -Execute $powershell -Argument $arguments
    $start = [DateTime]::Today.Add([TimeSpan]::Parse($At))
    $trigger = New-ScheduledTaskTrigger -Daily -At $start -RandomDelay (New-TimeSpan -Hours $RandomDelayHours)
    $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
        -ExecutionTimeLimit (New-TimeSpan -Hours 2) -MultipleInstances IgnoreNew
    Register-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Action $action -Trigger $trigger `
        -Principal $principal -Settings $settings -Description 'Sends this machine''s kbgap report (installed KBs, OS build, software).' -Force | Out-Null
    Write-CollectorEvent 1003 'Information' "kbgap: collector installed, reporting to $Url daily at $At (random delay up to $RandomDelayHours h)"
    if ($changed) { Start-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName }
    Write-Host "kbgap: collector installed: task $TaskPath$TaskName runs daily at $At + up to $RandomDelayHours h as SYSTEM, reporting to $Url"
}

function Uninstall-Collector {
    Assert-Elevated
    $task = Get-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -ErrorAction SilentlyContinue
    if ($null -ne $task) { Unregister-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Confirm:$false }
    foreach ($path in $ConfigDir, $InstallDir) {
        if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Recurse -Force }
    }
    Write-CollectorEvent 1004 'Information' 'kbgap: collector uninstalled'
    if ([System.Diagnostics.EventLog]::SourceExists($EventSource)) { [System.Diagnostics.EventLog]::DeleteEventSource($EventSource) }
    Write-Host 'kbgap: collector uninstalled (task, settings, script and event source removed)'
}

function Invoke-Scheduled {
    try {
        $stored = Read-Settings
        if ($null -eq $stored) { throw "no settings in $ConfigFile (run -Install again)" }
        Test-AcceptedUrl $stored.url
        $json = New-Report | ConvertTo-Json -Depth 5
    } catch {
        Write-CollectorEvent 1002 'Error' "kbgap: no report built: $($_.Exception.Message)"
        exit 1
    }
    if (-not (Send-Report $json $stored.url $stored.token)) { exit 1 }
}

switch ($PSCmdlet.ParameterSetName) {
    'Install' { Install-Collector; return }
    'Uninstall' { Uninstall-Collector; return }
    'Scheduled' { Invoke-Scheduled; return }
}

$json = New-Report | ConvertTo-Json -Depth 5
if ($Url) {
    if (-not $Token) { throw '-Token is required with -Url' }
    Test-AcceptedUrl $Url
    if (-not (Send-Report $json $Url $Token)) { throw "kbgap: the report was not sent to $Url (see the messages above)" }
    Write-Host "kbgap: report sent to $Url"
} else {
    $json
}
