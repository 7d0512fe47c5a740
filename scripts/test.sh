#!/usr/bin/env bash
# Runs every check and test of netspace: formatting, go vet, staticcheck,
# the tests (real-kernel tests need root and /dev/net/tun, and skip with a
# message without them), the race detector on the concurrent core, and
# every fuzz target for a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
netspace_setup

step() { printf '\n== %s\n' "$*"; }

step gofmt
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

step go vet
go vet ./...

step staticcheck
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step go test
go test -count=1 ./...

step go test -race: the concurrent core, TCP and the whole-stack tests
go test -count=1 -race ./dataspace ./actors ./timer ./tcp .

step fuzz targets, briefly
scripts/fuzz.sh

echo
echo "all checks passed"
