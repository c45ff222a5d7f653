# azd postprovision hook (Windows): the same output as postprovision.sh.
# azd runs it after `azd provision` with the environment's values, the
# outputs of infra/main.bicep among them, in the environment.
$ErrorActionPreference = 'Stop'

$template = "$env:TENANTSYNC_CONSENT_URL_TEMPLATE"
$targets = ("$env:TENANTSYNC_TARGET_TENANTS" -split '[,\s]+') | Where-Object { $_ -ne '' }

function Or($value, $fallback) { if ([string]::IsNullOrEmpty($value)) { $fallback } else { $value } }

Write-Output ''
Write-Output 'tenantsync is provisioned.'
Write-Output ('  function app:         {0}' -f (Or $env:AZURE_FUNCTION_APP_NAME '(unknown)'))
Write-Output ('  webhook URL:          {0}' -f (Or $env:TENANTSYNC_WEBHOOK_URL '(unknown)'))
Write-Output ('  tables:               {0}' -f (Or $env:TENANTSYNC_TABLES '(unknown)'))
Write-Output ('  service bus:          {0} (queue {1})' -f (Or $env:SERVICEBUS_NAMESPACE_FQDN '(unknown)'), (Or $env:SERVICEBUS_QUEUE_NAME 'changes'))
Write-Output ('  app (client) id:      {0}' -f (Or $env:TENANTSYNC_APP_CLIENT_ID '(not created)'))
Write-Output ('  status page:          {0} (Entra sign-in, role tenantsync.operator)' -f (Or $env:TENANTSYNC_STATUS_PAGE_URL '(unknown)'))

if ([string]::IsNullOrEmpty($template)) {
    Write-Output ''
    Write-Output 'The Graph app was not created (TENANTSYNC_CREATE_GRAPH_APP=false).'
    Write-Output 'Create it by hand as docs/deploy.md describes, then build the consent URL with'
    Write-Output '  handler consent-url --target NAME'
    exit 0
}

Write-Output ''
Write-Output 'Admin consent: an administrator of each target tenant opens its URL and accepts'
Write-Output '(User.Invite.All, User.ReadWrite.All; see docs/deploy.md).'
if ($targets.Count -eq 0) {
    Write-Output '  No target tenants known. Set them and print the URLs again:'
    Write-Output '    azd env set TENANTSYNC_TARGET_TENANTS "contoso.onmicrosoft.com"'
    Write-Output '    azd hooks run postprovision'
    Write-Output ('  URL template: {0}' -f $template)
} else {
    foreach ($tenant in $targets) {
        if ($tenant -notmatch '^[A-Za-z0-9.-]+$') {
            Write-Warning ('{0}: not a tenant id or domain, skipped' -f $tenant)
            continue
        }
        Write-Output ('  {0}: {1}' -f $tenant, $template.Replace('{tenant}', $tenant))
    }
}

Write-Output @'

Next steps (docs/deploy.md):
  1. In each target tenant: admin consent (above), then cross-tenant access
     settings for the source tenant (automatic redemption, inbound B2B).
  2. Put auth.clientId = the app (client) id into tenantsync.yaml, then
     `azd deploy` (or set TENANTSYNC_CONFIG_B64 and `azd provision`).
  3. Dry run:          handler plan --config tenantsync.yaml
  4. One person:       handler provision --user alice@source.example
  5. Automatic sync:   the functions start on deploy; watch handler status.
'@
