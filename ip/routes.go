package ip

import (
	"net/netip"
	"sort"
)

// Route is one entry of a RouteTable: Net is reached on Iface, directly
// (Gateway invalid) or through Gateway.
type Route struct {
	Net     netip.Prefix
	Gateway netip.Addr
	Iface   string
}

// OnLink reports whether the route reaches its net without a gateway.
func (r Route) OnLink() bool { return !r.Gateway.IsValid() }

// RouteTable is a longest-prefix-match routing table. It is pure data: the
// IP actor fills it from host-route, net-route and gateway-route
// assertions.
type RouteTable struct {
	routes []Route // sorted: longest prefix first, on-link before gateway
}

// Add inserts r (a route already present is not duplicated).
func (t *RouteTable) Add(r Route) {
	r.Net = r.Net.Masked()
	for _, x := range t.routes {
		if x == r {
			return
		}
	}
	t.routes = append(t.routes, r)
	sort.SliceStable(t.routes, func(i, j int) bool {
		a, b := t.routes[i], t.routes[j]
		if a.Net.Bits() != b.Net.Bits() {
			return a.Net.Bits() > b.Net.Bits()
		}
		return a.OnLink() && !b.OnLink()
	})
}

// Remove deletes r.
func (t *RouteTable) Remove(r Route) {
	r.Net = r.Net.Masked()
	for i, x := range t.routes {
		if x == r {
			t.routes = append(t.routes[:i], t.routes[i+1:]...)
			return
		}
	}
}

// Lookup returns the best route to dst and the next hop: dst itself on an
// on-link route, the gateway otherwise. Exactly one route is chosen, so a
// datagram is sent once, on the best route only.
func (t *RouteTable) Lookup(dst netip.Addr) (r Route, nextHop netip.Addr, ok bool) {
	for _, x := range t.routes {
		if x.Net.Contains(dst) {
			if x.OnLink() {
				return x, dst, true
			}
			return x, x.Gateway, true
		}
	}
	return Route{}, netip.Addr{}, false
}

// Routes returns the table's routes, best first.
func (t *RouteTable) Routes() []Route { return append([]Route(nil), t.routes...) }
