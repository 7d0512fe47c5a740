#!/usr/bin/env bash
# Builds libnetspace — the stack as a shared library with a BSD-socket C
# API, loadable by packetdrill — into bin/ (or the directory given):
# libnetspace.so and its header netspace.h. Needs Go and a C compiler.
#
#   ./scripts/build-libnetspace.sh [DIR]
#   gcc -Ibin -o app app.c -Lbin -lnetspace -Wl,-rpath,'$ORIGIN'
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin}
command -v go >/dev/null 2>&1 || export PATH=/usr/local/go/bin:$PATH
command -v "${CC:-gcc}" >/dev/null 2>&1 || { echo "build-libnetspace: no C compiler (${CC:-gcc}); install gcc" >&2; exit 1; }
mkdir -p "$out"
CGO_ENABLED=1 go build -buildmode=c-shared -trimpath -o "$out/libnetspace.so" ./cmd/libnetspace
# cgo writes a header of its own exports beside the library; the API is
# include/netspace.h.
rm -f "$out/libnetspace.h"
cp include/netspace.h "$out/netspace.h"
echo "built $out/libnetspace.so and $out/netspace.h"
