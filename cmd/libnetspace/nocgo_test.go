//go:build !cgo

package main

import "testing"

func TestNeedsCgo(t *testing.T) {
	t.Skip("cgo is off (no C compiler): libnetspace and its C tests need gcc; skipping")
}
