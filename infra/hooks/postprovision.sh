#!/bin/sh
# azd postprovision hook: prints what was deployed, the admin-consent URL of
# every target tenant, and the next steps. azd runs it after `azd provision`
# (and `azd up`) with the environment's values, the outputs of
# infra/main.bicep among them, in the environment.
#
# Target tenants come from TENANTSYNC_TARGET_TENANTS (space- or
# comma-separated tenant ids or domains):
#   azd env set TENANTSYNC_TARGET_TENANTS "contoso.onmicrosoft.com"
# The URL is TENANTSYNC_CONSENT_URL_TEMPLATE with {tenant} replaced, the same
# format as internal/consent (a Go test runs this script and compares).
set -eu

template="${TENANTSYNC_CONSENT_URL_TEMPLATE:-}"
targets="$(printf '%s' "${TENANTSYNC_TARGET_TENANTS:-}" | tr ',' ' ')"

printf '\ntenantsync is provisioned.\n'
printf '  function app:         %s\n' "${AZURE_FUNCTION_APP_NAME:-(unknown)}"
printf '  webhook URL:          %s\n' "${TENANTSYNC_WEBHOOK_URL:-(unknown)}"
printf '  tables:               %s\n' "${TENANTSYNC_TABLES:-(unknown)}"
printf '  service bus:          %s (queue %s)\n' "${SERVICEBUS_NAMESPACE_FQDN:-(unknown)}" "${SERVICEBUS_QUEUE_NAME:-changes}"
printf '  app (client) id:      %s\n' "${TENANTSYNC_APP_CLIENT_ID:-(not created)}"
printf '  status page:          %s (Entra sign-in, role tenantsync.operator)\n' "${TENANTSYNC_STATUS_PAGE_URL:-(unknown)}"

if [ -z "$template" ]; then
	printf '\nThe Graph app was not created (TENANTSYNC_CREATE_GRAPH_APP=false).\n'
	printf 'Create it by hand as docs/deploy.md describes, then build the consent URL with\n'
	printf '  handler consent-url --target NAME\n'
	exit 0
fi

printf '\nAdmin consent: an administrator of each target tenant opens its URL and accepts\n'
printf '(User.Invite.All, User.ReadWrite.All; see docs/deploy.md).\n'
if [ -z "$targets" ]; then
	printf '  No target tenants known. Set them and print the URLs again:\n'
	printf '    azd env set TENANTSYNC_TARGET_TENANTS "contoso.onmicrosoft.com"\n'
	printf '    azd hooks run postprovision\n'
	printf '  URL template: %s\n' "$template"
else
	for tenant in $targets; do
		case "$tenant" in
		*[!A-Za-z0-9.-]* | "")
			printf '  %s: not a tenant id or domain, skipped\n' "$tenant" >&2
			continue
			;;
		esac
		printf '  %s: %s\n' "$tenant" "$(printf '%s' "$template" | sed "s|{tenant}|$tenant|")"
	done
fi

cat <<'STEPS'

Next steps (docs/deploy.md):
  1. In each target tenant: admin consent (above), then cross-tenant access
     settings for the source tenant (automatic redemption, inbound B2B).
  2. Put auth.clientId = the app (client) id into tenantsync.yaml, then
     `azd deploy` (or set TENANTSYNC_CONFIG_B64 and `azd provision`).
  3. Dry run:          handler plan --config tenantsync.yaml
  4. One person:       handler provision --user alice@source.example
  5. Automatic sync:   the functions start on deploy; watch handler status.
STEPS
