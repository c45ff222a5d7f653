# azd preprovision hook (Windows): the same check as preprovision.sh. The
# app service in azure.yaml is `language: custom`, which azd keeps behind the
# alpha feature language.custom: on when AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM is a
# true value, or when `azd config get alpha.language.custom` (or alpha.all) is
# "on" (Azure/azure-dev: cli/azd/pkg/alpha/alpha_feature_manager.go).
$ErrorActionPreference = 'Stop'

$enabled = $null
$env_value = "$env:AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM"
if ($env_value -in @('1', 't', 'T', 'TRUE', 'true', 'True')) { $enabled = $true }
elseif ($env_value -in @('0', 'f', 'F', 'FALSE', 'false', 'False')) { $enabled = $false }

if ($null -eq $enabled -and (Get-Command azd -ErrorAction SilentlyContinue)) {
    foreach ($key in @('alpha.language.custom', 'alpha.all')) {
        # azd prints the value as JSON ("on") or fails when it is unset.
        $value = (& azd config get $key 2>$null | Out-String) -replace '["\s]', ''
        if ($value -eq 'on') { $enabled = $true; break }
    }
}

if ($enabled -ne $true) {
    [Console]::Error.WriteLine(@'
tenantsync: azure.yaml's service "app" uses language: custom, an azd alpha feature
that is off. Turn it on once for your user and run the command again:

    azd config set alpha.language.custom on

(or, for one shell or a CI job: $env:AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM = 'true').
See docs/deploy.md, First deployment.
'@)
    exit 1
}
Write-Output 'tenantsync: azd alpha feature language.custom is on.'
