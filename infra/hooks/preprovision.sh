#!/bin/sh
# azd preprovision hook: checks what `azd provision` (and `azd up`) needs
# before anything is deployed, and says exactly what to run if it is missing.
#
# The app service in azure.yaml is `language: custom`, which azd keeps behind
# the alpha feature language.custom: it is on when AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM
# is a true value, or when `azd config get alpha.language.custom` (or
# alpha.all) is "on" (Azure/azure-dev: cli/azd/pkg/alpha/alpha_feature_manager.go,
# cli/azd/resources/config_options.yaml). Current azd releases refuse to load
# the project without it before any hook runs; this check is for releases that
# load it and fail later, and for `azd hooks run preprovision`.
set -eu

enabled=no
case "${AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM:-}" in
1 | t | T | TRUE | true | True) enabled=yes ;;
0 | f | F | FALSE | false | False) enabled=off ;;
esac

if [ "$enabled" = no ] && command -v azd >/dev/null 2>&1; then
	for key in alpha.language.custom alpha.all; do
		# azd prints the value as JSON ("on") or fails when it is unset.
		value="$(azd config get "$key" 2>/dev/null | tr -d '"[:space:]' || true)"
		if [ "$value" = on ]; then
			enabled=yes
			break
		fi
	done
fi

if [ "$enabled" != yes ]; then
	cat >&2 <<'MSG'
tenantsync: azure.yaml's service "app" uses language: custom, an azd alpha feature
that is off. Turn it on once for your user and run the command again:

    azd config set alpha.language.custom on

(or, for one shell or a CI job: export AZD_ALPHA_ENABLE_LANGUAGE_CUSTOM=true).
See docs/deploy.md, First deployment.
MSG
	exit 1
fi
printf 'tenantsync: azd alpha feature language.custom is on.\n'
