# azd prepackage hook (Windows): the same staging as `make package` in the
# Makefile, for machines without make. Builds the Linux amd64 custom handler
# and stages dist/ exactly as the Functions host wants it: host.json, the
# executable `handler`, one folder per function with its function.json, and
# tenantsync.yaml when present.
#
# A zip made on Windows carries no Unix permissions; if the host logs
# "permission denied" starting `handler`, package and deploy from WSL, Linux
# or macOS instead (docs/deploy.md).
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path $PSScriptRoot '..' '..')

$dist = 'dist'
if (-not (Test-Path 'host.json')) {
    throw 'host.json is missing: the Functions host needs it at the script root'
}
if (Test-Path $dist) { Remove-Item -Recurse -Force $dist }
New-Item -ItemType Directory $dist | Out-Null
Copy-Item 'host.json' $dist

$env:GOOS = 'linux'
$env:GOARCH = 'amd64'
$env:CGO_ENABLED = '0'
go build -trimpath -ldflags '-s -w' -o (Join-Path $dist 'handler') ./handler
if ($LASTEXITCODE -ne 0) { throw "go build failed with exit code $LASTEXITCODE" }

Get-ChildItem 'functions' -Directory | ForEach-Object {
    if (Test-Path (Join-Path $_.FullName 'function.json')) {
        Copy-Item -Recurse $_.FullName (Join-Path $dist $_.Name)
    } else {
        Write-Warning ('functions/{0} has no function.json, skipped' -f $_.Name)
    }
}
if (Test-Path 'tenantsync.yaml') { Copy-Item 'tenantsync.yaml' $dist }
Write-Output "staged $dist"
