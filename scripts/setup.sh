#!/usr/bin/env bash
# Sourced by the other scripts: makes sure Go and the Debian packages that
# netspace and its tests use are present, installing what is missing when
# run as root on Debian/Ubuntu, and downloads the pinned Go modules.
# Without root it only says what is missing: tests that need it skip.

netspace_setup() {
	local pkgs=() pair cmd pkg
	# dnsmasq-base, not dnsmasq: the binary only, no system service on port 53.
	for pair in ip:iproute2 ping:iputils-ping tcpdump:tcpdump nc:netcat-openbsd curl:curl \
		dnsmasq:dnsmasq-base dig:dnsutils; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || pkgs+=("$pkg")
	done
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH=/usr/local/go/bin:$PATH
		else
			pkgs+=(golang-go)
		fi
	fi
	if [ ${#pkgs[@]} -gt 0 ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "setup: installing ${pkgs[*]}" >&2
			DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
		else
			echo "setup: missing ${pkgs[*]} (run as root on Debian/Ubuntu to install); tests that need them skip" >&2
		fi
	fi
	command -v go >/dev/null 2>&1 || { echo "setup: no Go toolchain found" >&2; return 1; }
	# go.mod names the Go release; an older go fetches it from the module proxy.
	export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
	go mod download
}
