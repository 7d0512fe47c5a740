package dhcp

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"
)

// State is the client's state (RFC 2131 §4.4, Figure 5), with Probing
// added between REQUESTING and BOUND for the ARP check of §4.4.1.
type State uint8

// The states.
const (
	Init       State = iota // no lease; waiting to (re)start
	Selecting               // DISCOVER sent, waiting for an OFFER
	Requesting              // REQUEST sent for an offer, waiting for ACK or NAK
	Probing                 // ACK received; checking with ARP that nobody uses the address
	Bound                   // the lease is in use
	Renewing                // past T1: REQUEST unicast to the server
	Rebinding               // past T2: REQUEST broadcast to any server
	Stopped                 // released, or stopped before binding
)

var stateNames = [...]string{"init", "selecting", "requesting", "probing", "bound", "renewing", "rebinding", "stopped"}

// String returns the state's name, as dhcp-state asserts it.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(?)"
}

// Config configures a Client. Zero durations take the defaults of RFC
// 2131 §4.1 and §4.4.5 given beside them.
type Config struct {
	// MAC is the client's hardware address (chaddr; client identifier 1+MAC).
	MAC [6]byte
	// Hostname, if set, is sent as option 12.
	Hostname string
	// Rand is the source of transaction IDs and retransmission jitter.
	Rand *rand.Rand
	// Retransmit is the first retransmission timeout in SELECTING and
	// REQUESTING (4 s); it doubles up to MaxRetransmit (64 s), each wait
	// randomised by ±Retransmit/4 (±1 s with the default).
	Retransmit, MaxRetransmit time.Duration
	// RequestTries is how many REQUESTs are sent for one offer before
	// starting again (4).
	RequestTries int
	// MinRenewRetransmit is the floor of the wait between REQUESTs in
	// RENEWING and REBINDING (60 s), which is otherwise half the time left
	// until T2, or until the lease ends (never past either).
	MinRenewRetransmit time.Duration
	// ProbeWait is how long the offered address is probed with ARP before
	// it is used (1 s); negative: no probe.
	ProbeWait time.Duration
	// DeclineWait is the wait before starting again after a DECLINE (10 s,
	// RFC 2131 §3.1 step 5).
	DeclineWait time.Duration
}

func (c *Config) defaults() {
	if c.Retransmit <= 0 {
		c.Retransmit = 4 * time.Second
	}
	if c.MaxRetransmit <= 0 {
		c.MaxRetransmit = 64 * time.Second
	}
	if c.RequestTries <= 0 {
		c.RequestTries = 4
	}
	if c.MinRenewRetransmit <= 0 {
		c.MinRenewRetransmit = 60 * time.Second
	}
	if c.ProbeWait == 0 {
		c.ProbeWait = time.Second
	}
	if c.DeclineWait <= 0 {
		c.DeclineWait = 10 * time.Second
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(1, 2))
	}
}

// Lease is what an ACK granted.
type Lease struct {
	Addr   netip.Prefix // our address and subnet
	Router netip.Addr   // invalid if none
	DNS    []netip.Addr
	Server netip.Addr // the server identifier
	Domain string
	// Start is when the REQUEST that got the lease was sent; the times
	// count from it. A Duration of 0xffffffff s is infinite.
	Start             time.Time
	Duration, T1, T2  time.Duration
	renewAt, rebindAt time.Time
	expires           time.Time
	infinite          bool
}

// Expires returns when the lease ends (the zero time if never).
func (l *Lease) Expires() time.Time { return l.expires }

// Outbound is a message to send. Broadcast ones go to 255.255.255.255
// (and the Ethernet broadcast); the others to To, the server.
type Outbound struct {
	Msg       *Message
	From      netip.Addr // 0.0.0.0 until bound
	Broadcast bool
	To        netip.Addr
}

// Output is what an event asks of the caller.
type Output struct {
	Send []Outbound
	// Bind: use this lease (a new one, or a renewal that may change it).
	Bind *Lease
	// Unbind: the lease is gone; stop using its address.
	Unbind bool
	// Probe: check with ARP whether anybody has this address, and call
	// Conflict if somebody does.
	Probe netip.Addr
}

// Stats counts a client's work.
type Stats struct {
	Discovers   atomic.Uint64
	Offers      atomic.Uint64
	Requests    atomic.Uint64
	Acks        atomic.Uint64
	Naks        atomic.Uint64
	Declines    atomic.Uint64
	Releases    atomic.Uint64
	Retransmits atomic.Uint64
	Renewals    atomic.Uint64 // ACKs in RENEWING or REBINDING
	Expired     atomic.Uint64 // leases that ran out
	Ignored     atomic.Uint64 // messages not for us or not expected now
	Malformed   atomic.Uint64 // datagrams that were not DHCP messages (counted by the actor)
	Unusable    atomic.Uint64 // ACKs without a usable address
}

// Client is the DHCP client state machine, pure: events and the time come
// in, messages to send and lease changes go out (see Output); the caller
// calls Tick at Deadline. It reads no clock and does no I/O.
type Client struct {
	cfg   Config
	Stats *Stats

	state    State
	xid      uint32
	started  time.Time // of the current exchange, for secs
	sentAt   time.Time // last REQUEST sent (lease times count from it)
	tries    int       // transmissions of the current message
	deadline time.Time
	offer    *Message // the offer being requested
	lease    *Lease   // bound lease (also while renewing and rebinding)
	probing  *Lease
	fails    int // consecutive NAKs and declines
}

// NewClient returns a client in Init; call Start.
func NewClient(cfg Config) *Client {
	cfg.defaults()
	return &Client{cfg: cfg, Stats: &Stats{}}
}

// State returns the current state.
func (c *Client) State() State { return c.state }

// Lease returns the lease in use (nil if none).
func (c *Client) Lease() *Lease { return c.lease }

// Deadline returns when Tick must next be called (the zero time: never).
func (c *Client) Deadline() time.Time { return c.deadline }

// Start begins acquiring a lease (INIT → SELECTING).
func (c *Client) Start(now time.Time) Output {
	var out Output
	c.discover(now, &out)
	return out
}

// backoff returns the wait after the n-th transmission (n ≥ 1): the
// doubling timeout of RFC 2131 §4.1 with its jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.Retransmit
	for i := 1; i < n && d < c.cfg.MaxRetransmit; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxRetransmit)
	j := c.cfg.Retransmit / 4
	if j > 0 {
		d += time.Duration(c.cfg.Rand.Int64N(int64(2*j+1))) - j
	}
	return d
}

func (c *Client) base(t MessageType) *Message {
	m := &Message{Op: opRequest, XID: c.xid, CHAddr: c.cfg.MAC, Type: t, SubnetBits: -1,
		ClientID: append([]byte{htypeEther}, c.cfg.MAC[:]...), Hostname: c.cfg.Hostname}
	if t == Discover || t == Request {
		m.ParamRequest = []byte{OptSubnetMask, OptRouter, OptDNS, OptDomainName, OptLeaseTime, OptT1, OptT2}
	}
	return m
}

func (c *Client) secs(now time.Time) uint16 {
	return uint16(min(now.Sub(c.started)/time.Second, 0xffff))
}

// discover starts a new exchange: DISCOVER, broadcast, from 0.0.0.0. We
// ask for broadcast replies: until bound, the IP layer accepts only
// broadcasts (RFC 2131 §4.1).
func (c *Client) discover(now time.Time, out *Output) {
	c.state, c.xid, c.started, c.tries, c.offer = Selecting, c.cfg.Rand.Uint32(), now, 0, nil
	c.sendDiscover(now, out)
}

func (c *Client) sendDiscover(now time.Time, out *Output) {
	c.tries++
	m := c.base(Discover)
	m.Broadcast, m.Secs = true, c.secs(now)
	c.Stats.Discovers.Add(1)
	out.Send = append(out.Send, Outbound{Msg: m, From: netip.IPv4Unspecified(), Broadcast: true})
	c.deadline = now.Add(c.backoff(c.tries))
}

// sendRequest sends the REQUEST of the current state: SELECTING's answer
// to an offer (broadcast, with the server identifier and requested
// address), RENEWING's (unicast to the server, ciaddr set) or
// REBINDING's (broadcast, ciaddr set) (RFC 2131 §4.3.2).
func (c *Client) sendRequest(now time.Time, out *Output) {
	c.tries++
	m := c.base(Request)
	m.Secs = c.secs(now)
	ob := Outbound{Msg: m, From: netip.IPv4Unspecified(), Broadcast: true}
	switch c.state {
	case Requesting:
		m.Broadcast = true
		m.RequestedIP, m.ServerID = c.offer.YIAddr, c.offer.ServerID
		c.deadline = now.Add(c.backoff(c.tries))
	case Renewing:
		m.CIAddr = c.lease.Addr.Addr()
		ob.From, ob.Broadcast, ob.To = m.CIAddr, false, c.lease.Server
		c.deadline = c.renewWait(now, c.lease.rebindAt)
	case Rebinding:
		m.CIAddr = c.lease.Addr.Addr()
		ob.From = m.CIAddr
		c.deadline = c.renewWait(now, c.lease.expires)
	}
	c.sentAt = now
	c.Stats.Requests.Add(1)
	out.Send = append(out.Send, ob)
}

// renewWait is when to retransmit in RENEWING or REBINDING: after half
// the time left until limit, at least MinRenewRetransmit, never past
// limit (RFC 2131 §4.4.5).
func (c *Client) renewWait(now, limit time.Time) time.Time {
	left := limit.Sub(now)
	w := max(left/2, c.cfg.MinRenewRetransmit)
	if w > left {
		w = left
	}
	return now.Add(w)
}

// Tick handles the deadline: retransmissions, the end of the probe, T1,
// T2 and the end of the lease. Calling it early does nothing.
func (c *Client) Tick(now time.Time) Output {
	var out Output
	if c.deadline.IsZero() || now.Before(c.deadline) {
		return out
	}
	switch c.state {
	case Init:
		c.discover(now, &out)
	case Selecting:
		c.Stats.Retransmits.Add(1)
		c.sendDiscover(now, &out)
	case Requesting:
		if c.tries >= c.cfg.RequestTries {
			c.restart(now, 0, &out)
			break
		}
		c.Stats.Retransmits.Add(1)
		c.sendRequest(now, &out)
	case Probing:
		c.bind(now, c.probing, &out)
	case Bound:
		c.state, c.xid, c.started, c.tries = Renewing, c.cfg.Rand.Uint32(), now, 0
		c.sendRequest(now, &out)
	case Renewing:
		if !now.Before(c.lease.rebindAt) {
			c.state, c.tries = Rebinding, 0
		} else {
			c.Stats.Retransmits.Add(1)
		}
		c.sendRequest(now, &out)
	case Rebinding:
		if !now.Before(c.lease.expires) {
			c.Stats.Expired.Add(1)
			c.lease = nil
			out.Unbind = true
			c.discover(now, &out)
			break
		}
		c.Stats.Retransmits.Add(1)
		c.sendRequest(now, &out)
	default:
		c.deadline = time.Time{}
	}
	return out
}

// restart goes back to INIT, discovering again after wait.
func (c *Client) restart(now time.Time, wait time.Duration, out *Output) {
	if c.lease != nil {
		c.lease = nil
		out.Unbind = true
	}
	c.state, c.offer, c.probing = Init, nil, nil
	if wait <= 0 {
		c.discover(now, out)
		return
	}
	c.deadline = now.Add(wait)
}

// Receive handles a message from a server.
func (c *Client) Receive(now time.Time, m *Message) Output {
	var out Output
	if m.Op != opReply || m.XID != c.xid || m.CHAddr != c.cfg.MAC {
		c.Stats.Ignored.Add(1)
		return out
	}
	switch {
	case c.state == Selecting && m.Type == Offer:
		if !m.YIAddr.Is4() || !m.ServerID.Is4() {
			c.Stats.Ignored.Add(1)
			break
		}
		// The first offer wins (RFC 2131 §4.4.1 lets the client choose).
		c.Stats.Offers.Add(1)
		c.state, c.offer, c.tries = Requesting, m, 0
		c.sendRequest(now, &out)
	case (c.state == Requesting || c.state == Renewing || c.state == Rebinding) && m.Type == Ack:
		if c.state == Requesting && m.ServerID.IsValid() && m.ServerID != c.offer.ServerID {
			c.Stats.Ignored.Add(1)
			break
		}
		l := c.leaseFrom(m)
		if l == nil {
			c.Stats.Unusable.Add(1)
			break
		}
		c.Stats.Acks.Add(1)
		if c.state == Requesting {
			if c.cfg.ProbeWait > 0 {
				c.state, c.probing = Probing, l
				c.deadline = now.Add(c.cfg.ProbeWait)
				out.Probe = l.Addr.Addr()
				break
			}
			c.bind(now, l, &out)
			break
		}
		c.Stats.Renewals.Add(1)
		c.bind(now, l, &out)
	case (c.state == Requesting || c.state == Renewing || c.state == Rebinding) && m.Type == Nak:
		// RFC 2131 §3.1 step 5 / §4.4.5: a NAK sends the client back to
		// INIT. Repeated NAKs back off, so a confused server cannot make
		// us loop at full speed.
		c.Stats.Naks.Add(1)
		c.fails++
		wait := time.Duration(0)
		if c.fails > 1 {
			wait = c.backoff(c.fails - 1)
		}
		c.restart(now, wait, &out)
	default:
		c.Stats.Ignored.Add(1)
	}
	return out
}

// leaseFrom builds the lease an ACK grants, or nil if it is unusable.
func (c *Client) leaseFrom(m *Message) *Lease {
	addr := m.YIAddr
	if !addr.Is4() && c.lease != nil {
		addr = c.lease.Addr.Addr()
	}
	if !addr.Is4() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil
	}
	bits := m.SubnetBits
	if bits < 0 || bits > 32 {
		bits = classful(addr)
	}
	l := &Lease{Addr: netip.PrefixFrom(addr, bits), DNS: m.DNS, Server: m.ServerID, Domain: m.DomainName, Start: c.sentAt}
	if !l.Server.IsValid() {
		if c.offer != nil {
			l.Server = c.offer.ServerID
		} else if c.lease != nil {
			l.Server = c.lease.Server
		}
	}
	if len(m.Routers) > 0 {
		l.Router = m.Routers[0]
	}
	l.Duration, l.T1, l.T2 = m.LeaseTime, m.T1, m.T2
	if l.Duration == 0xffffffff*time.Second {
		l.infinite = true
		return l
	}
	if l.Duration <= 0 {
		l.Duration = time.Hour // RFC 2131 requires option 51 in an ACK; be lenient
	}
	// RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease.
	if !(l.T1 > 0 && l.T1 < l.Duration) {
		l.T1 = l.Duration / 2
	}
	if !(l.T2 > l.T1 && l.T2 < l.Duration) {
		l.T2 = l.Duration * 7 / 8
		if l.T2 <= l.T1 {
			l.T1 = l.Duration / 2
		}
	}
	l.renewAt, l.rebindAt, l.expires = l.Start.Add(l.T1), l.Start.Add(l.T2), l.Start.Add(l.Duration)
	return l
}

// classful returns the natural mask of addr, for servers that send none.
func classful(a netip.Addr) int {
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	}
	return 24
}

func (c *Client) bind(now time.Time, l *Lease, out *Output) {
	c.state, c.lease, c.probing, c.offer, c.fails, c.tries = Bound, l, nil, nil, 0, 0
	out.Bind = l
	if l.infinite {
		c.deadline = time.Time{}
		return
	}
	c.deadline = l.renewAt
	if !now.Before(c.deadline) {
		c.deadline = now
	}
}

// Conflict reports that another host answered for addr: while probing
// it, the client DECLINEs it and starts again after DeclineWait (RFC
// 2131 §3.1 step 5, §4.4.1).
func (c *Client) Conflict(now time.Time, addr netip.Addr) Output {
	var out Output
	if c.state != Probing || c.probing == nil || c.probing.Addr.Addr() != addr {
		return out
	}
	m := c.base(Decline)
	m.ParamRequest, m.Hostname = nil, ""
	m.RequestedIP, m.ServerID = addr, c.probing.Server
	c.Stats.Declines.Add(1)
	out.Send = append(out.Send, Outbound{Msg: m, From: netip.IPv4Unspecified(), Broadcast: true})
	c.fails++
	c.restart(now, c.cfg.DeclineWait, &out)
	return out
}

// Release gives the lease back (RELEASE, unicast to the server, RFC 2131
// §4.4.6) and stops the client. Without a lease it only stops.
func (c *Client) Release(now time.Time) Output {
	var out Output
	if c.lease != nil && (c.state == Bound || c.state == Renewing || c.state == Rebinding) {
		c.xid = c.cfg.Rand.Uint32()
		m := c.base(Release)
		m.ParamRequest, m.Hostname = nil, ""
		m.CIAddr, m.ServerID = c.lease.Addr.Addr(), c.lease.Server
		c.Stats.Releases.Add(1)
		out.Send = append(out.Send, Outbound{Msg: m, From: m.CIAddr, To: c.lease.Server})
		out.Unbind = true
	}
	c.state, c.lease, c.offer, c.probing, c.deadline = Stopped, nil, nil, nil, time.Time{}
	return out
}
