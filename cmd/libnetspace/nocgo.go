//go:build !cgo

// Command libnetspace is the netspace stack as a shared library with a
// BSD-socket C API; it needs cgo (a C compiler). Without cgo it builds
// as a program that says so, so that `go build ./...` stays green.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "libnetspace needs cgo: build it with go build -buildmode=c-shared (scripts/build-libnetspace.sh)")
	os.Exit(2)
}
