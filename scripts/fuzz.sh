#!/usr/bin/env bash
# Runs every fuzz target of netspace for a few seconds each (FUZZTIME,
# default 4s), so that a decoder that starts to panic on some input is
# caught by CI; the targets' seed corpora (testdata/fuzz) run in every
# plain `go test` too. Usage: scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-4s}}
status=0
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for target in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/' | sort -u); do
		printf '%-12s %-24s ' "$dir" "$target"
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir" 2>&1); then
			echo ok
		else
			echo FAIL
			echo "$out" | tail -20
			status=1
		fi
	done
done
exit $status
