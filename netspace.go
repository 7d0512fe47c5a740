// Package netspace assembles a whole netspace stack on one link: the
// actors of every layer (interface, ARP, IP, ICMP, UDP, port allocation,
// timer) in one dataspace, with the addresses and routes of its Config
// asserted by the stack's root actor. Stopping the stack retracts them all.
//
//	link, _ := drivers.OpenTAP("tap0", drivers.TAPOptions{})
//	st, _ := netspace.New(netspace.Config{
//		Link:    link,
//		Addrs:   []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")},
//		Gateway: netip.MustParseAddr("192.0.2.1"),
//	})
//	defer st.Close()
//
// User actors join the same dataspace with Stack.Spawn and speak the
// records of packages ip (udp-channel, ip-packet) and, later, tcp.
package netspace

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"
	"netspace/ethernet"
	"netspace/ip"
	"netspace/tcp"
	"netspace/timer"

	"go.uber.org/zap"
)

// Config describes a stack.
type Config struct {
	// Link carries the stack's frames.
	Link drivers.Link
	// Iface names the interface in records (default: the link's name).
	Iface string
	// MAC is the stack's MAC (default: the link's own, else a random
	// locally administered address).
	MAC ethernet.MAC
	// Addrs are the stack's addresses with their subnets.
	Addrs []netip.Prefix
	// Gateway, if valid, is the default route's next hop.
	Gateway netip.Addr
	// Logger receives crashes, warnings and traces (default: none).
	Logger *zap.Logger
	// Trace lists the layers to trace (see actors.Tracer).
	Trace []string
	// Deterministic runs the stack's turns only when the test asks
	// (actors.Deterministic), on Clock (default: a new ManualClock).
	Deterministic bool
	// Clock is the stack's clock (default: the wall clock, or a
	// ManualClock when Deterministic).
	Clock actors.Clock
	// Seed seeds the stack's randomness: IP identification, ephemeral
	// ports, MAC (0: from crypto/rand).
	Seed uint64
	// ARP, IP, ICMP and TCP tune those layers (zero values: defaults;
	// TCP's MSS follows the link's MTU unless set).
	ARP  ethernet.ARPConfig
	IP   ip.Config
	ICMP ip.ICMPConfig
	TCP  tcp.LayerConfig
}

// Stack is a running stack.
type Stack struct {
	// Sys is the stack's actor system and dataspace.
	Sys *actors.System
	// MAC is the stack's link address.
	MAC ethernet.MAC

	// Net offers the stack's TCP as net.Listener, net.Conn and Dial.
	Net *tcp.Net

	Iface *ethernet.InterfaceStats
	ARP   *ethernet.ARPStats
	IP    *ip.Stats
	ICMP  *ip.ICMPStats
	UDP   *ip.UDPStats
	TCP   *tcp.LayerStats

	root    *actors.Actor
	link    drivers.Link
	addrs   []netip.Prefix
	onClose []func()
	// actors whose mailboxes are bounded, for their drop counters
	bounded map[string]*actors.Actor
}

// New starts a stack.
func New(cfg Config) (*Stack, error) {
	if cfg.Link == nil {
		return nil, errors.New("netspace: Config.Link is nil")
	}
	for _, a := range cfg.Addrs {
		if !a.Addr().Is4() || a.Bits() < 0 {
			return nil, fmt.Errorf("netspace: address %v is not an IPv4 prefix", a)
		}
	}
	if cfg.Gateway.IsValid() && !cfg.Gateway.Is4() {
		return nil, fmt.Errorf("netspace: gateway %v is not IPv4", cfg.Gateway)
	}
	if cfg.Seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		cfg.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	if cfg.Iface == "" {
		cfg.Iface = cfg.Link.Name()
	}
	if cfg.MAC == (ethernet.MAC{}) {
		cfg.MAC = ethernet.MAC(cfg.Link.HardwareAddr())
	}
	if cfg.MAC == (ethernet.MAC{}) {
		cfg.MAC = ethernet.LocallyAdministered(cfg.Seed)
	}
	opts := []actors.Option{}
	if cfg.Logger != nil {
		opts = append(opts, actors.WithLogger(cfg.Logger))
	}
	if cfg.Deterministic {
		opts = append(opts, actors.Deterministic())
	}
	if cfg.Clock != nil {
		opts = append(opts, actors.WithClock(cfg.Clock))
	}
	sys := actors.NewSystem(opts...)
	if len(cfg.Trace) > 0 {
		if err := sys.Tracer().Enable(cfg.Trace...); err != nil {
			return nil, err
		}
	}
	s := &Stack{Sys: sys, MAC: cfg.MAC, link: cfg.Link, addrs: cfg.Addrs}
	if cfg.IP.FirstID == 0 {
		cfg.IP.FirstID = uint16(cfg.Seed >> 16)
	}
	cfg.ARP.Iface, cfg.ARP.MAC = cfg.Iface, cfg.MAC
	if cfg.TCP.Conn.MSS == 0 {
		cfg.TCP.Conn.MSS = cfg.Link.MTU() - ip.IPv4MinHeaderLen - tcp.HeaderLen
	}
	if cfg.TCP.Secret == ([16]byte{}) {
		binary.LittleEndian.PutUint64(cfg.TCP.Secret[:8], cfg.Seed*0x9e3779b97f4a7c15)
		if _, err := rand.Read(cfg.TCP.Secret[8:]); err != nil {
			return nil, err
		}
	}
	if cfg.TCP.Seed == 0 {
		cfg.TCP.Seed = cfg.Seed ^ 0x7f4a7c159e3779b9
	}
	s.Net = tcp.NewNet(sys)
	s.bounded = map[string]*actors.Actor{}
	s.root = sys.Spawn("stack", func(t *actors.Turn) {
		timer.Spawn(t)
		s.bounded["tcp"], s.TCP = tcp.Spawn(t, cfg.TCP)
		s.bounded["ip"], s.IP = ip.SpawnIP(t, cfg.IP)
		s.bounded["icmp"], s.ICMP = ip.SpawnICMP(t, cfg.ICMP)
		s.bounded["udp"], s.UDP = ip.SpawnUDP(t, cfg.Seed)
		s.bounded["arp"], s.ARP = ethernet.SpawnARP(t, cfg.ARP)
		_, s.Iface = ethernet.SpawnInterface(t, cfg.Link, ethernet.InterfaceConfig{Name: cfg.Iface, MAC: cfg.MAC})
		for _, a := range cfg.Addrs {
			t.Assert(&ip.HostRoute{Addr: a.Addr(), Prefix: a.Bits(), Iface: cfg.Iface})
		}
		if cfg.Gateway.IsValid() {
			t.Assert(&ip.GatewayRoute{Net: netip.IPv4Unspecified(), Prefix: 0, Gateway: cfg.Gateway, Iface: cfg.Iface})
		}
	})
	return s, nil
}

// WaitReady waits until the stack answers for every configured address
// (ARP knows them), or ctx ends. The stack's actors start at once, but
// addresses spread through the dataspace in their own turns: a peer that
// asks before then gets no answer.
func (s *Stack) WaitReady(ctx context.Context) error {
	want := map[netip.Addr]bool{}
	for _, a := range s.addrs {
		want[a.Addr()] = true
	}
	ready := make(chan struct{})
	var once sync.Once
	w := s.Spawn("wait-ready", func(t *actors.Turn) {
		seen := map[netip.Addr]bool{}
		t.Observe(ds.RecordPattern(ethernet.LabelARPLocal, ds.Discard, ds.CaptureAny), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				if a := c[0].AsAddr(); want[a] {
					seen[a] = true
				}
				if len(seen) == len(want) {
					once.Do(func() { close(ready) })
					t.Stop()
				}
			},
		})
		if len(want) == 0 {
			once.Do(func() { close(ready) })
			t.Stop()
		}
	})
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		w.Stop()
		return fmt.Errorf("netspace: stack not ready: %w", ctx.Err())
	}
}

// Spawn starts a user actor in the stack's dataspace.
func (s *Stack) Spawn(name string, boot func(t *actors.Turn)) *actors.Actor {
	return s.Sys.Spawn(name, boot)
}

// Close stops every actor of the stack (retracting everything) and closes
// the link.
func (s *Stack) Close() error {
	for _, f := range s.onClose {
		f()
	}
	s.onClose = nil
	err := s.Sys.Close(5 * time.Second)
	if cerr := s.link.Close(); err == nil && cerr != nil && !errors.Is(cerr, drivers.ErrClosed) {
		err = cerr
	}
	return err
}

// Counters returns every counter of the stack by name ("ip.delivered",
// "udp.no_port", "link.rx_frames", …), for logs, tests and reports.
func (s *Stack) Counters() map[string]uint64 {
	out := map[string]uint64{}
	for _, g := range []struct {
		prefix string
		v      any
	}{{"iface", s.Iface}, {"arp", s.ARP}, {"ip", s.IP}, {"icmp", s.ICMP}, {"udp", s.UDP}, {"tcp", s.TCP}} {
		addCounters(out, g.prefix, g.v)
	}
	ls := s.link.Stats()
	addCounters(out, "link", &ls)
	for name, a := range s.bounded {
		out[name+".mailbox_dropped"] = a.Dropped()
	}
	st := s.Sys.Stats()
	out["actors.live"], out["actors.crashes"], out["actors.messages"] = uint64(st.Live), st.Crashes, st.Messages
	return out
}

// CounterNames returns the names of Counters, sorted.
func (s *Stack) CounterNames() []string {
	c := s.Counters()
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// addCounters adds the atomic and plain integer fields of the struct v
// points to, named prefix.snake_case_field.
func addCounters(out map[string]uint64, prefix string, v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return
	}
	rv = rv.Elem()
	for i := 0; i < rv.NumField(); i++ {
		f, name := rv.Field(i), prefix+"."+snake(rv.Type().Field(i).Name)
		switch x := f.Addr().Interface().(type) {
		case *atomic.Uint64:
			out[name] = x.Load()
		case *atomic.Int64:
			out[name] = uint64(x.Load())
		case *uint64:
			out[name] = *x
		}
	}
}

func snake(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 && (s[i-1] < 'A' || s[i-1] > 'Z') {
				b = append(b, '_')
			}
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}
