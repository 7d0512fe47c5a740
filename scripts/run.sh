#!/usr/bin/env bash
# Runs netspace's main job: a stack you can ping, with its trace visible.
#
# It creates a network namespace "netspace" with a TAP device tap0 whose
# kernel side is 192.0.2.1/24, runs the stack on it at 192.0.2.2 (ICMP
# echo, UDP echo on port 7) tracing ARP, ICMP and UDP, and deletes the
# namespace when the stack exits (Ctrl-C). Traffic never leaves the
# namespace. From another terminal:
#
#     ip netns exec netspace ping 192.0.2.2
#     ip netns exec netspace nc -u 192.0.2.2 7
#
# Extra arguments go to 'netspace run' (e.g. --trace all). 'run.sh demo'
# runs the dataspace demo instead, which needs no root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if [ "${1:-}" = demo ]; then
	shift
	netspace_setup >/dev/null
	exec go run ./cmd/netspace demo "$@"
fi
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespace and TAP device); 'run.sh demo' does not" >&2; exit 1; }
netspace_setup >/dev/null
bin=$(mktemp -d)/netspace
go build -o "$bin" ./cmd/netspace
NS=netspace
ip netns del "$NS" 2>/dev/null || true
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$(dirname "$bin")"; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" addr add 192.0.2.1/24 dev tap0
ip -n "$NS" link set tap0 up
cat >&2 <<MSG
netspace: starting on tap0 in namespace "$NS" at 192.0.2.2 (kernel side 192.0.2.1). Try, from another terminal:
    ip netns exec $NS ping 192.0.2.2
    ip netns exec $NS nc -u 192.0.2.2 7
Ctrl-C stops the stack and deletes the namespace.
MSG
ip netns exec "$NS" "$bin" run --tap tap0 --addr 192.0.2.2/24 --gateway 192.0.2.1 \
	--trace arp,icmp,udp --log-level debug "$@" || status=$?
exit "${status:-0}"
