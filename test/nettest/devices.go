package nettest

import (
	"netspace/drivers"
)

// CreateTAP creates a persistent TAP device called name inside the
// namespace (`ip tuntap add`), gives its kernel side the address kernelCIDR
// (e.g. "192.0.2.1/24"; none if empty) and sets it up. The device is deleted
// at cleanup. It has no carrier, so the kernel sends nothing on it, until a
// TAP is attached (see OpenTAP).
func (ns *Namespace) CreateTAP(name, kernelCIDR string) {
	ns.t.Helper()
	ns.MustRun(ns.t, "ip", "tuntap", "add", "dev", name, "mode", "tap")
	ns.t.Cleanup(func() {
		// Deleting the namespace would take the device with it, but only
		// once nothing holds the namespace; do not depend on that.
		ns.ipCleanup("tuntap", "del", "dev", name, "mode", "tap")
	})
	if kernelCIDR != "" {
		ns.MustRun(ns.t, "ip", "addr", "add", kernelCIDR, "dev", name)
	}
	ns.MustRun(ns.t, "ip", "link", "set", name, "up")
}

// OpenTAP attaches a drivers.TAP to the TAP device called name inside the
// namespace (opening /dev/net/tun from inside it, so that TUNSETIFF finds
// the device). The TAP is closed at cleanup, before the device and the
// namespace are deleted, if the test has not closed it already.
func (ns *Namespace) OpenTAP(name string) (*drivers.TAP, error) {
	var tap *drivers.TAP
	err := ns.Do(func() (err error) {
		tap, err = drivers.OpenTAP(name, drivers.TAPOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	ns.t.Cleanup(func() { tap.Close() })
	return tap, nil
}

// OpenPacket opens a drivers.Packet on the interface called name inside the
// namespace. It is closed at cleanup if the test has not closed it already.
func (ns *Namespace) OpenPacket(name string) (*drivers.Packet, error) {
	var p *drivers.Packet
	err := ns.Do(func() (err error) {
		p, err = drivers.OpenPacket(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	ns.t.Cleanup(func() { p.Close() })
	return p, nil
}

// CreateVeth creates a veth pair with ends a and b, both inside the
// namespace, and sets both up. The pair is deleted at cleanup.
func (ns *Namespace) CreateVeth(a, b string) {
	ns.t.Helper()
	ns.MustRun(ns.t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	ns.t.Cleanup(func() { ns.ipCleanup("link", "del", a) })
	ns.MustRun(ns.t, "ip", "link", "set", a, "up")
	ns.MustRun(ns.t, "ip", "link", "set", b, "up")
}

// ipCleanup runs `ip -n NAME args...` at cleanup, bounded in time, logging
// a failure instead of failing the test.
func (ns *Namespace) ipCleanup(args ...string) {
	if _, err := command(append([]string{"ip", "-n", ns.name}, args...)...); err != nil {
		ns.t.Logf("nettest: cleanup: %v", err)
	}
}
