package dhcp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/dns"
	"netspace/ethernet"
	"netspace/ip"

	"go.uber.org/zap"
)

// AgentConfig configures the DHCP client actor of one interface.
type AgentConfig struct {
	// Iface is the interface to configure; MAC its hardware address.
	Iface string
	MAC   ethernet.MAC
	// Client tunes the state machine (its MAC is set from MAC; its Rand,
	// if nil, from Seed).
	Client Config
	// Seed seeds the client's randomness when Client.Rand is nil.
	Seed uint64
}

// Agent is a running DHCP client actor.
type Agent struct {
	// Actor is the client's actor, named dhcp:IFACE.
	Actor *actors.Actor
	// Stats counts its work.
	Stats *Stats

	a *agent
}

// Spawn starts the DHCP client of one interface as a child of t's actor.
// See the package doc for what it asserts.
func Spawn(t *actors.Turn, cfg AgentConfig) *Agent {
	ag, boot := newAgent(cfg)
	ag.Actor = t.Spawn("dhcp:"+cfg.Iface, boot)
	return ag
}

// Start is Spawn for a top-level actor of sys.
func Start(sys *actors.System, cfg AgentConfig) *Agent {
	ag, boot := newAgent(cfg)
	ag.Actor = sys.Spawn("dhcp:"+cfg.Iface, boot)
	return ag
}

func newAgent(cfg AgentConfig) (*Agent, func(*actors.Turn)) {
	cfg.Client.MAC = cfg.MAC
	if cfg.Client.Rand == nil {
		cfg.Client.Rand = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5deece66d))
	}
	c := NewClient(cfg.Client)
	a := &agent{cfg: cfg, c: c, rnd: cfg.Client.Rand}
	return &Agent{Stats: c.Stats, a: a}, a.boot
}

// ErrNotStopped is returned by Release when the client did not stop in
// time.
var ErrNotStopped = errors.New("dhcp: client did not stop")

// Release gives the lease back (a RELEASE to the server, sent before the
// client's turn ends), retracts it and stops the client, waiting until it
// has stopped or ctx ends. A client without a lease just stops.
func (ag *Agent) Release(ctx context.Context) error {
	done := make(chan struct{})
	ag.Actor.Watch(func() { close(done) })
	ag.Actor.Inject(func(t *actors.Turn) {
		ag.a.release(t)
		t.Stop()
	})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ErrNotStopped
	}
}

// agent is the actor's state: a thin shell over Client.
type agent struct {
	cfg AgentConfig
	c   *Client
	rnd *rand.Rand
	log *zap.Logger
	me  *actors.Actor

	timer    *actors.ActorTimer
	stateH   actors.Handle
	state    State
	lease    *Lease
	leaseH   actors.Handle
	routeH   actors.Handle
	gwH      actors.Handle
	dnsH     map[netip.Addr]actors.Handle
	probe    netip.Addr
	probeH   actors.Handle
	probeSub *actors.Subscription
	server   netip.Addr // whose MAC we keep resolved while bound
	serverH  actors.Handle
	srvSub   *actors.Subscription
	srvMAC   ethernet.MAC
}

func (a *agent) boot(t *actors.Turn) {
	a.me = t.Actor()
	a.log = t.System().Logger().Named("dhcp").With(zap.String("iface", a.cfg.Iface))
	a.dnsH = map[netip.Addr]actors.Handle{}
	t.Observe(ip.ListenerPattern(ClientPort), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { a.input(t, m.(*ip.UDPChannel)) },
	})
	t.Observe(ds.RecordPattern(LabelRelease, ds.Lit(ds.String(a.cfg.Iface))), actors.Handler{
		Message: func(t *actors.Turn, _ ds.Record) { a.release(t); t.Stop() },
	})
	a.apply(t, a.c.Start(t.Now()))
}

func (a *agent) release(t *actors.Turn) { a.apply(t, a.c.Release(t.Now())) }

func (a *agent) input(t *actors.Turn, ch *ip.UDPChannel) {
	src, ok := ch.Src.(*ip.UDPAddress)
	if !ok || src.Port != ServerPort {
		a.c.Stats.Ignored.Add(1)
		return
	}
	m, err := Parse(ch.Body)
	if err != nil {
		a.c.Stats.Malformed.Add(1)
		a.trace("drop malformed message", zap.Error(err), zap.Stringer("from", src.Host))
		return
	}
	a.trace("receive", zap.Stringer("type", m.Type), zap.Uint32("xid", m.XID),
		zap.Stringer("yiaddr", m.YIAddr), zap.Stringer("server", m.ServerID), zap.String("text", m.Text))
	a.apply(t, a.c.Receive(t.Now(), m))
}

// apply carries out what the client asked for.
func (a *agent) apply(t *actors.Turn, out Output) {
	for _, ob := range out.Send {
		a.send(t, ob)
	}
	if out.Unbind {
		a.unbind(t)
	}
	if out.Bind != nil {
		a.bind(t, out.Bind)
	}
	if out.Probe.IsValid() {
		a.startProbe(t, out.Probe)
	}
	if a.c.State() != Probing {
		a.endProbe(t)
	}
	if st := a.c.State(); st != a.state || a.stateH == 0 {
		a.state = st
		a.stateH = t.Replace(a.stateH, &StateRecord{Iface: a.cfg.Iface, State: st.String()})
		a.trace("state", zap.Stringer("state", st))
	}
	a.timer.Stop()
	a.timer = nil
	if dl := a.c.Deadline(); !dl.IsZero() {
		a.timer = t.After(max(dl.Sub(t.Now()), 0), func(t *actors.Turn) {
			a.timer = nil
			a.apply(t, a.c.Tick(t.Now()))
		})
	}
}

// send builds the datagram itself and hands it to the interface: see the
// package doc for why.
func (a *agent) send(t *actors.Turn, ob Outbound) {
	dst, mac := netip.AddrFrom4([4]byte{255, 255, 255, 255}), ethernet.Broadcast
	if !ob.Broadcast {
		dst = ob.To
		if ob.To == a.server && !a.srvMAC.IsZero() {
			mac = a.srvMAC
		}
	}
	frame := BuildFrame(ob.Msg, ob.From, dst, uint16(a.rnd.Uint32()))
	a.trace("send", zap.Stringer("type", ob.Msg.Type), zap.Uint32("xid", ob.Msg.XID),
		zap.Stringer("from", ob.From), zap.Stringer("to", dst), zap.Stringer("mac", mac),
		zap.Stringer("requested", ob.Msg.RequestedIP), zap.Stringer("ciaddr", ob.Msg.CIAddr))
	t.Send(&ethernet.Packet{Iface: a.cfg.Iface, Src: a.cfg.MAC, Dst: mac, Type: ethernet.EtherTypeIPv4,
		Body: frame[ethernet.HeaderLen:], Frame: frame})
}

// bind asserts the lease's records, changing only those that differ from
// the lease held before (a renewal that changes nothing changes no
// assertion, so nothing above notices).
func (a *agent) bind(t *actors.Turn, l *Lease) {
	old := a.lease
	a.lease = l
	iface := a.cfg.Iface
	if old == nil || old.Addr != l.Addr {
		a.routeH = t.Replace(a.routeH, &ip.HostRoute{Addr: l.Addr.Addr(), Prefix: l.Addr.Bits(), Iface: iface})
	}
	if old == nil || old.Router != l.Router {
		if a.gwH != 0 {
			t.Retract(a.gwH)
			a.gwH = 0
		}
		if l.Router.Is4() {
			a.gwH = t.Assert(&ip.GatewayRoute{Net: netip.IPv4Unspecified(), Prefix: 0, Gateway: l.Router, Iface: iface})
		}
	}
	for s, h := range a.dnsH {
		if !slices.Contains(l.DNS, s) {
			t.Retract(h)
			delete(a.dnsH, s)
		}
	}
	for _, s := range l.DNS {
		if _, ok := a.dnsH[s]; !ok && s.Is4() {
			a.dnsH[s] = t.Assert(&dns.Server{Addr: s})
		}
	}
	if old == nil || old.Addr != l.Addr || old.Router != l.Router || old.Server != l.Server {
		a.leaseH = t.Replace(a.leaseH, &LeaseRecord{Iface: iface, Addr: l.Addr.Addr(), Prefix: l.Addr.Bits(),
			Router: l.Router, Server: l.Server})
	}
	a.trace("bound", zap.Stringer("addr", l.Addr), zap.Stringer("router", l.Router),
		zap.Stringer("server", l.Server), zap.Duration("lease", l.Duration),
		zap.Duration("t1", l.T1), zap.Duration("t2", l.T2))
	a.watchServer(t, l.Server)
}

// unbind retracts everything the lease asserted.
func (a *agent) unbind(t *actors.Turn) {
	for _, h := range []*actors.Handle{&a.routeH, &a.gwH, &a.leaseH} {
		if *h != 0 {
			t.Retract(*h)
			*h = 0
		}
	}
	for s, h := range a.dnsH {
		t.Retract(h)
		delete(a.dnsH, s)
	}
	a.lease = nil
	a.watchServer(t, netip.Addr{})
	a.trace("unbound")
}

// watchServer keeps the server's MAC resolved while bound, for unicast
// renewals and the RELEASE.
func (a *agent) watchServer(t *actors.Turn, s netip.Addr) {
	if s == a.server {
		return
	}
	if a.serverH != 0 {
		t.Retract(a.serverH)
		t.Unobserve(a.srvSub)
		a.serverH, a.srvSub, a.srvMAC = 0, nil, ethernet.MAC{}
	}
	a.server = s
	if !s.Is4() {
		return
	}
	a.serverH = t.Assert(&ethernet.ARPQuery{Iface: a.cfg.Iface, IP: s})
	a.srvSub = t.Observe(ds.RecordPattern(ethernet.LabelARPEntry, ds.Lit(ds.String(a.cfg.Iface)),
		ds.Lit(ds.Addr(s)), ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) { a.srvMAC = ethernet.MACFrom(c[0]) },
	})
}

// startProbe asks ARP for the offered address (RFC 2131 §4.4.1: ARP
// requests from 0.0.0.0 are RFC 5227 probes): an answer is a conflict.
func (a *agent) startProbe(t *actors.Turn, addr netip.Addr) {
	a.endProbe(t)
	a.probe = addr
	a.probeH = t.Assert(&ethernet.ARPQuery{Iface: a.cfg.Iface, IP: addr})
	a.probeSub = t.Observe(ds.RecordPattern(ethernet.LabelARPEntry, ds.Lit(ds.String(a.cfg.Iface)),
		ds.Lit(ds.Addr(addr)), ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			a.trace("address in use", zap.Stringer("addr", addr), zap.Stringer("mac", ethernet.MACFrom(c[0])))
			a.apply(t, a.c.Conflict(t.Now(), addr))
		},
	})
}

func (a *agent) endProbe(t *actors.Turn) {
	if a.probeH == 0 {
		return
	}
	t.Retract(a.probeH)
	t.Unobserve(a.probeSub)
	a.probeH, a.probeSub, a.probe = 0, nil, netip.Addr{}
}

func (a *agent) trace(msg string, fs ...zap.Field) {
	if !LabelLease.Traced() {
		return
	}
	if ce := a.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(fs...)
	}
}

// leaseTimeout bounds how long a caller waits for a lease in WaitLease.
const leaseTimeout = time.Minute

// WaitLease waits until sys holds a lease on iface (a dhcp-lease
// assertion) and returns its address, or fails when ctx ends (or after a
// minute if ctx has no deadline).
func WaitLease(ctx context.Context, sys *actors.System, iface string) (netip.Prefix, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaseTimeout)
		defer cancel()
	}
	got := make(chan netip.Prefix, 1)
	w := sys.Spawn("dhcp-wait:"+iface, func(t *actors.Turn) {
		t.Observe(LeasePattern(iface), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				select {
				case got <- netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())):
				default:
				}
				t.Stop()
			},
		})
	})
	select {
	case p := <-got:
		return p, nil
	case <-ctx.Done():
		w.Stop()
		return netip.Prefix{}, ctx.Err()
	}
}
