#!/usr/bin/env bash
# Runs netspace's main job with sensible defaults. Until the network
# layers land, that is the dataspace demo: actors, a demand matcher and a
# trace. Extra arguments go to 'netspace demo'.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
netspace_setup >/dev/null
exec go run ./cmd/netspace demo "$@"
