// Package test holds netspace's cross-layer tests against real peers: a
// stack on a TAP device in a network namespace the test creates, with the
// Linux kernel on the other side (ping, Go's net package, tcpdump), and
// the netspace binary run as the netbench harness runs it. They need root
// and /dev/net/tun and skip with a message without them. The test kits
// they use live in test/nettest.
package test
