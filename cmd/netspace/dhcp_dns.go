package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"netspace"
	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/dhcp"
	"netspace/dns"

	"go.uber.org/zap"
)

// dnsNames is the repeatable --dns-name host=addr flag.
type dnsNames []dns.Name

func (n *dnsNames) String() string {
	var parts []string
	for _, x := range *n {
		parts = append(parts, x.Name+"="+x.Addr.String())
	}
	return strings.Join(parts, ",")
}

func (n *dnsNames) Set(s string) error {
	name, addr, ok := strings.Cut(s, "=")
	a, err := netip.ParseAddr(addr)
	if !ok || err != nil || !a.Is4() {
		return fmt.Errorf("want host=IPv4, e.g. www.test=192.0.2.2")
	}
	if _, err := dns.CanonicalName(name); err != nil || name == "" {
		return fmt.Errorf("%q is not a domain name", name)
	}
	*n = append(*n, dns.Name{Name: name, Addr: a})
	return nil
}

// addrList is a repeatable IPv4 address flag.
type addrList []netip.Addr

func (l *addrList) String() string {
	var parts []string
	for _, a := range *l {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ",")
}

func (l *addrList) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("want an IPv4 address")
	}
	*l = append(*l, a)
	return nil
}

// netServices are the DHCP client, resolver and responder as parts of a
// stack: `netspace run` and `netspace fetch` start them from flags.
type netServices struct {
	dhcp       bool
	names      dnsNames
	servers    addrList
	iface      string
	agent      *dhcp.Agent
	resolverOn bool
	resolver   *dns.ResolverStats
	responder  *dns.ResponderStats
}

func (s *netServices) register(fs *flag.FlagSet, withNames bool) {
	fs.BoolVar(&s.dhcp, "dhcp", false, "get the address, gateway and DNS servers by DHCP (then --addr is not given)")
	fs.Var(&s.servers, "dns-server", "a DNS server for the resolver (repeatable; DHCP's are added)")
	if withNames {
		fs.Var(&s.names, "dns-name", "answer DNS queries for host with addr, as host=addr (repeatable)")
	}
}

// start starts what the flags ask for on a running stack: the responder
// and its names, the resolver and its static servers, the DHCP client.
func (s *netServices) start(st *netspace.Stack, log *zap.Logger) {
	if len(s.names) > 0 {
		_, s.responder = dns.StartResponder(st.Sys, dns.ResponderConfig{})
	}
	if s.dhcp || len(s.servers) > 0 || s.resolverOn {
		_, s.resolver = dns.StartResolver(st.Sys, dns.ResolverConfig{})
	}
	names, servers := s.names, s.servers
	if len(names)+len(servers) > 0 {
		st.Spawn("dns-config", func(t *actors.Turn) {
			for i := range names {
				t.Assert(&names[i])
			}
			for _, a := range servers {
				t.Assert(&dns.Server{Addr: a})
			}
		})
	}
	if !s.dhcp {
		return
	}
	s.agent = dhcp.Start(st.Sys, dhcp.AgentConfig{Iface: s.iface, MAC: st.MAC, Seed: uint64(time.Now().UnixNano())})
	iface := s.iface
	st.Spawn("dhcp-log", func(t *actors.Turn) {
		t.Observe(dhcp.LeasePattern(iface), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				log.Info("dhcp lease", zap.String("iface", iface), zap.Stringer("addr", netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt()))),
					zap.Stringer("router", c[2].AsAddr()), zap.Stringer("server", c[3].AsAddr()))
			},
			Removed: func(t *actors.Turn, c []ds.Value) {
				log.Info("dhcp lease gone", zap.String("iface", iface), zap.Stringer("addr", c[0].AsAddr()))
			},
		})
	})
}

// stop releases the lease, if any, waiting up to 2 s for the RELEASE to
// leave, and logs the counters at debug level.
func (s *netServices) stop(log *zap.Logger) {
	if ce := log.Check(zap.DebugLevel, "dhcp and dns counters"); ce != nil {
		var fs []zap.Field
		for name, v := range map[string]any{"dhcp": s.agentStats(), "resolver": s.resolver, "responder": s.responder} {
			if c := counters(v); len(c) > 0 {
				fs = append(fs, zap.Any(name, c))
			}
		}
		ce.Write(fs...)
	}
	if s.agent == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.agent.Release(ctx); err != nil {
		log.Warn("dhcp release", zap.Error(err))
	}
	s.agent = nil
}

// counters returns the non-zero atomic.Uint64 fields of the struct v
// points to, by field name.
func counters(v any) map[string]uint64 {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	out := map[string]uint64{}
	rv = rv.Elem()
	for i := 0; i < rv.NumField(); i++ {
		if x, ok := rv.Field(i).Addr().Interface().(*atomic.Uint64); ok && x.Load() != 0 {
			out[rv.Type().Field(i).Name] = x.Load()
		}
	}
	return out
}

func (s *netServices) agentStats() *dhcp.Stats {
	if s.agent == nil {
		return nil
	}
	return s.agent.Stats
}

func init() {
	s := &netServices{}
	var fs *flag.FlagSet
	registerFeature(&feature{
		name: "dhcp-dns",
		flags: func(f *flag.FlagSet) {
			fs = f
			s.register(f, true)
		},
		configure: func(cfg *netspace.Config) error {
			if !s.dhcp {
				return nil
			}
			addrSet := false
			fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
			if addrSet {
				return fmt.Errorf("--dhcp and --addr are exclusive")
			}
			cfg.Addrs = nil
			// The startup log names the address: say where it comes from.
			fs.Set("addr", "dhcp")
			if cfg.Iface == "" {
				cfg.Iface = cfg.Link.Name()
			}
			s.iface = cfg.Iface
			return nil
		},
		start: func(st *netspace.Stack, log *zap.Logger) (func(), error) {
			s.start(st, log)
			return func() { s.stop(log) }, nil
		},
	})
}
