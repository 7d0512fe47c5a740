// Package nettest holds the helpers that netspace's tests against the real
// Linux kernel share: a skip for machines that cannot run them, and
// throw-away network namespaces with TAP devices and veth pairs in them.
//
// Every real-kernel test follows one rule: its traffic stays inside a
// network namespace that the test creates and deletes itself, between
// addresses in 192.0.2.0/24 or 198.18.0.0/15. [NewNamespace] makes such a
// namespace and registers its deletion with t.Cleanup, together with
// everything made in it, so a failing test leaves nothing behind;
// [Leftovers] lets a TestMain prove it.
//
// Tests reach into a namespace three ways: [Namespace.Run] and
// [Namespace.Start] run commands in it (`ip netns exec`), and [Namespace.Do]
// runs Go code on an OS thread switched into it, so that sockets and devices
// opened by that code (net.ListenUDP, drivers.OpenTAP) belong to the
// namespace.
package nettest
