#!/usr/bin/env bash
# The vulnerability check of `make lint` (docs/security.md, "Dependencies and
# vulnerability checks"):
#
#   1. govulncheck against the Go vulnerability database (vuln.go.dev);
#   2. when that database cannot be reached, a line saying so and why, then
#      govulncheck against a snapshot of the same database taken from the Go
#      module proxy (the module golang.org/x/vulndb, whose data/osv holds
#      every advisory);
#   3. always, the checked-in list .ci/known-vulnerable.txt compared with
#      `go list -m all` and the Go version: the one check that needs no
#      network once the module cache is filled.
#
# It fails if any of them finds a vulnerability, or if govulncheck fails for
# another reason than an unreachable database. It never passes silently: each
# check that could not run says so.
#
# Settings (the Makefile passes the first two):
#   GO                    the go command (go)
#   GOVULNCHECK_VERSION   golang.org/x/vuln version (v1.9.0)
#   VULNDB_URL            the database govulncheck reads (https://vuln.go.dev)
#   VULNDB_SNAPSHOT       golang.org/x/vulndb version for step 2 (latest), or
#                         "none" to skip step 2
#   TOOLS                 where govulncheck is installed (.tools)
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_URL=${VULNDB_URL:-https://vuln.go.dev}
VULNDB_SNAPSHOT=${VULNDB_SNAPSHOT:-latest}
TOOLS=${TOOLS:-$PWD/.tools}
KNOWN=.ci/known-vulnerable.txt

say() { printf 'vulncheck: %s\n' "$*"; }
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/govulncheck.out

# govulncheck DB: runs govulncheck ./... against DB; 0 no vulnerability
# called, 3 vulnerabilities found, 2 DB unreachable (reason in $reason),
# 1 any other failure. Its report goes to the terminal.
reason=
govulncheck() {
	"$TOOLS/bin/govulncheck" -db "$1" ./... 2>&1 | tee "$out"
	local rc=${PIPESTATUS[0]}
	case $rc in
	0 | 3) return "$rc" ;;
	esac
	# "govulncheck: fetching vulnerabilities: Get ...: dial tcp: lookup
	# vuln.go.dev ...: no such host": the database, not the code.
	if reason=$(grep -m1 -E 'fetching vulnerabilities|vulnerability database|unrecognized vulndb format' "$out"); then
		return 2
	fi
	return 1
}

# 1. govulncheck at its pinned version, against the live database.
db_ok=0
if ! GOBIN="$TOOLS/bin" "$GO" install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"; then
	say "COULD NOT RUN govulncheck: installing golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION failed (above)"
	say "falling back to the checked-in list $KNOWN only"
else
	probe=
	if [[ $VULNDB_URL == http* ]] && command -v curl >/dev/null; then
		# A quick look first, so that an unreachable database is told in
		# seconds rather than after govulncheck has loaded every package.
		if ! probe=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$VULNDB_URL/index/db.json.gz" 2>"$tmp/curl.err"); then
			reason="$VULNDB_URL: $(sed 's/^curl: //' "$tmp/curl.err" | head -n1)"
		elif [[ $probe != 200 ]]; then
			reason="$VULNDB_URL/index/db.json.gz answered HTTP $probe"
		fi
	fi
	rc=2
	if [[ -z $reason ]]; then
		say "govulncheck@$GOVULNCHECK_VERSION against $VULNDB_URL"
		govulncheck "$VULNDB_URL"
		rc=$?
	fi
	case $rc in
	0) db_ok=1; say "govulncheck: no vulnerable code reached ($VULNDB_URL)" ;;
	3) failed=1; say "FAIL: govulncheck found vulnerable code (above; $VULNDB_URL)" ;;
	1) failed=1; say "FAIL: govulncheck did not complete (above)" ;;
	2)
		say "COULD NOT RUN govulncheck against $VULNDB_URL: the vulnerability database is unreachable: $reason"
		# 2. The same check against a snapshot of the database from the Go
		# module proxy.
		if [[ $VULNDB_SNAPSHOT == none ]]; then
			say "offline fallback: the snapshot is turned off (VULNDB_SNAPSHOT=none); the checked-in list $KNOWN only"
		else
			say "offline fallback 1: govulncheck against the snapshot golang.org/x/vulndb@$VULNDB_SNAPSHOT from the Go module proxy"
			# Downloaded outside this module, so that go.mod and go.sum stay as they are.
			json=$(cd "$tmp" && GOFLAGS= GO111MODULE=on "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_SNAPSHOT" 2>&1)
			dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
			version=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
			if [[ -z $dir || ! -d $dir/data/osv ]]; then
				say "COULD NOT RUN the snapshot fallback: $(grep -m1 -E 'Error|error|go: ' <<<"$json" || echo "no data/osv in golang.org/x/vulndb@$VULNDB_SNAPSHOT")"
				say "offline fallback 2 only: the checked-in list $KNOWN"
			else
				# The pseudo-version's date is the snapshot's.
				stamp=$(sed -n 's/.*-\([0-9]\{8\}\)[0-9]\{6\}-[0-9a-f]\{12\}$/\1/p' <<<"$version")
				say "snapshot golang.org/x/vulndb@$version${stamp:+ (advisories up to ${stamp:0:4}-${stamp:4:2}-${stamp:6:2})}"
				govulncheck "file://$dir/data/osv"
				case $? in
				0) say "govulncheck: no vulnerable code reached (snapshot $version: newer advisories are not checked)" ;;
				3) failed=1; say "FAIL: govulncheck found vulnerable code (above; snapshot $version)" ;;
				*) failed=1; say "FAIL: govulncheck did not complete against the snapshot (above)" ;;
				esac
			fi
		fi
		;;
	esac
fi

# 3. The checked-in list, against the modules in use and the Go version.
# lt A B: version A sorts before B.
lt() { [[ $1 != "$2" && $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1) == "$1" ]]; }
if ! mods=$("$GO" list -m -f '{{if .Version}}{{.Path}} {{.Version}}{{end}}' all); then
	failed=1
	say "FAIL: go list -m all failed (above): the checked-in list could not be compared"
else
	goversion=$("$GO" env GOVERSION)
	mods+=$'\n'"stdlib v${goversion#go}"
	declare -A used
	while read -r path version; do
		[[ -n $path ]] && used[$path]=${version%+incompatible}
	done <<<"$mods"
	entries=0 hits=0
	while read -r path introduced fixed advisory _; do
		[[ -z $path || $path == \#* ]] && continue
		entries=$((entries + 1))
		v=${used[$path]:-}
		[[ -z $v ]] && continue
		if { [[ $introduced == 0 ]] || ! lt "$v" "$introduced"; } && { [[ $fixed == - ]] || lt "$v" "$fixed"; }; then
			hits=$((hits + 1))
			name=$path@$v
			[[ $path == stdlib ]] && name="the Go standard library ($goversion)"
			fix="fixed in $fixed"
			[[ $fixed == - ]] && fix="no fixed version yet"
			say "FAIL: $name is affected by $advisory (https://pkg.go.dev/vuln/$advisory), $fix"
		fi
	done <"$KNOWN"
	if ((hits > 0)); then
		failed=1
		say "FAIL: $hits known-vulnerable versions in use (list $KNOWN)"
	else
		say "checked-in list: none of its $entries known-vulnerable versions is in use ($KNOWN)"
	fi
fi

if ((failed)); then
	say "FAILED"
	exit 1
fi
if ((!db_ok)); then
	say "passed WITHOUT the live vulnerability database (see the COULD NOT RUN line above)"
else
	say "passed"
fi
