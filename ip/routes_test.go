package ip

import (
	"net/netip"
	"testing"
)

func TestRouteLookup(t *testing.T) {
	var rt RouteTable
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	rt.Add(Route{Net: pfx("0.0.0.0/0"), Gateway: addr("192.0.2.1"), Iface: "tap0"})
	rt.Add(Route{Net: pfx("192.0.2.2/24"), Iface: "tap0"}) // host route's subnet, unmasked on purpose
	rt.Add(Route{Net: pfx("198.18.0.0/16"), Gateway: addr("192.0.2.9"), Iface: "tap0"})
	rt.Add(Route{Net: pfx("198.18.5.0/24"), Iface: "eth1"})
	rt.Add(Route{Net: pfx("192.0.2.0/24"), Gateway: addr("192.0.2.1"), Iface: "tap0"}) // same prefix as on-link
	cases := []struct {
		dst, hop, iface string
	}{
		{"192.0.2.7", "192.0.2.7", "tap0"},   // on-link beats the equally long gateway route
		{"198.18.5.1", "198.18.5.1", "eth1"}, // longest prefix
		{"198.18.7.1", "192.0.2.9", "tap0"},  // /16 gateway
		{"198.19.0.1", "192.0.2.1", "tap0"},  // default
	}
	for _, c := range cases {
		r, hop, ok := rt.Lookup(addr(c.dst))
		if !ok || hop != addr(c.hop) || r.Iface != c.iface {
			t.Errorf("Lookup(%s) = %v %v %v; want hop %s on %s", c.dst, r, hop, ok, c.hop, c.iface)
		}
	}
	rt.Remove(Route{Net: pfx("0.0.0.0/0"), Gateway: addr("192.0.2.1"), Iface: "tap0"})
	if _, _, ok := rt.Lookup(addr("198.19.0.1")); ok {
		t.Error("route found after removing the default")
	}
	rt.Add(Route{Net: pfx("198.18.5.0/24"), Iface: "eth1"})
	if n := len(rt.Routes()); n != 4 {
		t.Errorf("%d routes; a duplicate was added", n)
	}
}
