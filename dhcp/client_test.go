package dhcp

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var (
	t0       = time.Unix(1_000_000, 0)
	offered  = netip.MustParseAddr("192.0.2.50")
	serverIP = netip.MustParseAddr("192.0.2.1")
)

func newTestClient() *Client {
	return NewClient(Config{MAC: testMAC, Rand: rand.New(rand.NewPCG(7, 8))})
}

// reply is the server's answer to req.
func reply(req *Message, typ MessageType, lease, t1, t2 time.Duration) *Message {
	m := &Message{Op: opReply, XID: req.XID, CHAddr: req.CHAddr, Type: typ, SubnetBits: -1, ServerID: serverIP}
	if typ != Nak {
		m.YIAddr, m.SubnetBits, m.Routers = offered, 24, []netip.Addr{serverIP}
		m.DNS = []netip.Addr{serverIP}
		m.LeaseTime, m.T1, m.T2 = lease, t1, t2
	}
	return m
}

func one(t *testing.T, out Output) Outbound {
	t.Helper()
	if len(out.Send) != 1 {
		t.Fatalf("sent %d messages, want 1: %+v", len(out.Send), out)
	}
	return out.Send[0]
}

// bound runs a client through DISCOVER, OFFER, REQUEST, ACK and the probe
// with a 120 s lease (T1 10 s, T2 20 s), and returns it bound, the clock
// at binding.
func bound(t *testing.T) (*Client, time.Time) {
	t.Helper()
	c := newTestClient()
	d := one(t, c.Start(t0))
	if d.Msg.Type != Discover || !d.Broadcast || d.From != netip.IPv4Unspecified() || !d.Msg.Broadcast {
		t.Fatalf("first message: %+v %+v", d, d.Msg)
	}
	if c.State() != Selecting {
		t.Fatalf("state %v after start", c.State())
	}
	now := t0.Add(100 * time.Millisecond)
	r := one(t, c.Receive(now, reply(d.Msg, Offer, 120*time.Second, 10*time.Second, 20*time.Second)))
	if r.Msg.Type != Request || !r.Broadcast || r.Msg.RequestedIP != offered || r.Msg.ServerID != serverIP ||
		r.Msg.CIAddr.IsValid() || r.Msg.XID != d.Msg.XID {
		t.Fatalf("REQUEST: %+v", r.Msg)
	}
	now = now.Add(100 * time.Millisecond)
	out := c.Receive(now, reply(r.Msg, Ack, 120*time.Second, 10*time.Second, 20*time.Second))
	if out.Probe != offered || out.Bind != nil || c.State() != Probing {
		t.Fatalf("after ACK: %+v, state %v", out, c.State())
	}
	if !c.Deadline().Equal(now.Add(time.Second)) {
		t.Fatalf("probe deadline %v, want %v", c.Deadline(), now.Add(time.Second))
	}
	now = c.Deadline()
	out = c.Tick(now)
	if out.Bind == nil || c.State() != Bound {
		t.Fatalf("after probe: %+v, state %v", out, c.State())
	}
	l := out.Bind
	if l.Addr != netip.MustParsePrefix("192.0.2.50/24") || l.Router != serverIP || l.Server != serverIP ||
		len(l.DNS) != 1 || l.T1 != 10*time.Second || l.T2 != 20*time.Second {
		t.Fatalf("lease %+v", l)
	}
	// Lease times count from the REQUEST (RFC 2131 §4.4.1).
	reqAt := t0.Add(100 * time.Millisecond)
	if !c.Deadline().Equal(reqAt.Add(10*time.Second)) || !l.Expires().Equal(reqAt.Add(120*time.Second)) {
		t.Fatalf("T1 deadline %v, expiry %v", c.Deadline(), l.Expires())
	}
	return c, now
}

func TestClientAcquires(t *testing.T) {
	c, _ := bound(t)
	if c.Stats.Discovers.Load() != 1 || c.Stats.Requests.Load() != 1 || c.Stats.Acks.Load() != 1 || c.Stats.Offers.Load() != 1 {
		t.Fatalf("stats %+v", c.Stats)
	}
}

func TestClientBackoff(t *testing.T) {
	c := newTestClient()
	one(t, c.Start(t0))
	now := t0
	want := []time.Duration{4, 8, 16, 32, 64, 64, 64}
	var xid uint32
	for i, w := range want {
		wait := c.Deadline().Sub(now)
		if lo, hi := w*time.Second-time.Second, w*time.Second+time.Second; wait < lo || wait > hi {
			t.Fatalf("wait %d: %v, want %v ±1 s", i+1, wait, w*time.Second)
		}
		if early := c.Tick(c.Deadline().Add(-time.Millisecond)); len(early.Send) != 0 {
			t.Fatal("Tick before the deadline sent something")
		}
		now = c.Deadline()
		d := one(t, c.Tick(now))
		if d.Msg.Type != Discover {
			t.Fatalf("retransmission %d is %v", i+1, d.Msg.Type)
		}
		if i > 0 && d.Msg.XID != xid {
			t.Fatal("a retransmission changed the xid")
		}
		xid = d.Msg.XID
		if d.Msg.Secs != uint16(now.Sub(t0)/time.Second) {
			t.Fatalf("secs %d at %v", d.Msg.Secs, now.Sub(t0))
		}
	}
	if c.Stats.Retransmits.Load() != uint64(len(want)) {
		t.Fatalf("retransmits %d", c.Stats.Retransmits.Load())
	}
}

func TestClientRequestGivesUp(t *testing.T) {
	c := newTestClient()
	d := one(t, c.Start(t0))
	one(t, c.Receive(t0, reply(d.Msg, Offer, time.Hour, 0, 0)))
	for i := 1; i < 4; i++ {
		if r := one(t, c.Tick(c.Deadline())); r.Msg.Type != Request {
			t.Fatalf("retry %d: %v", i, r.Msg.Type)
		}
	}
	d2 := one(t, c.Tick(c.Deadline()))
	if d2.Msg.Type != Discover || c.State() != Selecting || d2.Msg.XID == d.Msg.XID {
		t.Fatalf("after 4 REQUESTs: %v in %v, xid %x", d2.Msg.Type, c.State(), d2.Msg.XID)
	}
}

func TestClientNak(t *testing.T) {
	c := newTestClient()
	d := one(t, c.Start(t0))
	r := one(t, c.Receive(t0, reply(d.Msg, Offer, time.Hour, 0, 0)))
	// The first NAK restarts at once; the second waits.
	d2 := one(t, c.Receive(t0, reply(r.Msg, Nak, 0, 0, 0)))
	if d2.Msg.Type != Discover || c.State() != Selecting {
		t.Fatalf("after NAK: %v, %v", d2.Msg.Type, c.State())
	}
	r2 := one(t, c.Receive(t0, reply(d2.Msg, Offer, time.Hour, 0, 0)))
	out := c.Receive(t0, reply(r2.Msg, Nak, 0, 0, 0))
	if len(out.Send) != 0 || c.State() != Init || c.Deadline().Sub(t0) < 3*time.Second {
		t.Fatalf("second NAK: %+v, %v, restart in %v", out, c.State(), c.Deadline().Sub(t0))
	}
	if d3 := one(t, c.Tick(c.Deadline())); d3.Msg.Type != Discover {
		t.Fatalf("restart sent %v", d3.Msg.Type)
	}
	if c.Stats.Naks.Load() != 2 {
		t.Fatalf("naks %d", c.Stats.Naks.Load())
	}
}

func TestClientNakWhileRenewingRetracts(t *testing.T) {
	c, _ := bound(t)
	r := one(t, c.Tick(c.Deadline()))
	out := c.Receive(c.Deadline(), reply(r.Msg, Nak, 0, 0, 0))
	if !out.Unbind || c.Lease() != nil || c.State() != Selecting || one(t, out).Msg.Type != Discover {
		t.Fatalf("NAK in RENEWING: %+v, state %v", out, c.State())
	}
}

func TestClientRenewsAtT1(t *testing.T) {
	c, _ := bound(t)
	t1 := c.Deadline()
	r := one(t, c.Tick(t1))
	if c.State() != Renewing || r.Msg.Type != Request || r.Broadcast || r.To != serverIP || r.From != offered ||
		r.Msg.CIAddr != offered || r.Msg.RequestedIP.IsValid() || r.Msg.ServerID.IsValid() {
		t.Fatalf("renewal: state %v, %+v, %+v", c.State(), r, r.Msg)
	}
	// Short lease: half the time to T2 is under the 60 s floor, so the
	// retransmission waits until T2 itself.
	if want := t1.Add(10 * time.Second); !c.Deadline().Equal(want) {
		t.Fatalf("renewal retransmission at %v, want T2 %v", c.Deadline(), want)
	}
	now := t1.Add(50 * time.Millisecond)
	out := c.Receive(now, reply(r.Msg, Ack, 120*time.Second, 10*time.Second, 20*time.Second))
	if out.Bind == nil || out.Unbind || c.State() != Bound || c.Stats.Renewals.Load() != 1 {
		t.Fatalf("after renewal ACK: %+v, %v", out, c.State())
	}
	if want := t1.Add(10 * time.Second); !c.Deadline().Equal(want) {
		t.Fatalf("next T1 %v, want %v", c.Deadline(), want)
	}
}

func TestClientRebindsAtT2AndExpires(t *testing.T) {
	c, _ := bound(t)
	start := t0.Add(100 * time.Millisecond)
	one(t, c.Tick(c.Deadline())) // T1: renewing, unanswered
	if !c.Deadline().Equal(start.Add(20 * time.Second)) {
		t.Fatalf("deadline %v, want T2", c.Deadline())
	}
	r := one(t, c.Tick(c.Deadline()))
	if c.State() != Rebinding || !r.Broadcast || r.From != offered || r.Msg.CIAddr != offered {
		t.Fatalf("T2: state %v, %+v", c.State(), r)
	}
	// Half of the 100 s left is under the 60 s floor: the floor applies.
	if want := start.Add(80 * time.Second); !c.Deadline().Equal(want) {
		t.Fatalf("rebinding retransmission at %v, want %v", c.Deadline(), want)
	}
	one(t, c.Tick(c.Deadline()))
	if want := start.Add(120 * time.Second); !c.Deadline().Equal(want) {
		t.Fatalf("last retransmission bounded by expiry: %v, want %v", c.Deadline(), want)
	}
	out := c.Tick(c.Deadline())
	if !out.Unbind || c.Lease() != nil || c.State() != Selecting || one(t, out).Msg.Type != Discover ||
		c.Stats.Expired.Load() != 1 {
		t.Fatalf("expiry: %+v, state %v", out, c.State())
	}
}

func TestClientRebindAck(t *testing.T) {
	c, _ := bound(t)
	one(t, c.Tick(c.Deadline()))
	r := one(t, c.Tick(c.Deadline()))
	out := c.Receive(c.Deadline(), reply(r.Msg, Ack, 120*time.Second, 0, 0))
	if out.Bind == nil || c.State() != Bound || out.Bind.T1 != 60*time.Second || out.Bind.T2 != 105*time.Second {
		t.Fatalf("rebind ACK with default T1/T2: %+v, %v", out.Bind, c.State())
	}
}

func TestClientDeclinesConflict(t *testing.T) {
	c := newTestClient()
	d := one(t, c.Start(t0))
	r := one(t, c.Receive(t0, reply(d.Msg, Offer, time.Hour, 0, 0)))
	out := c.Receive(t0, reply(r.Msg, Ack, time.Hour, 0, 0))
	if out.Probe != offered {
		t.Fatalf("no probe: %+v", out)
	}
	if x := c.Conflict(t0, netip.MustParseAddr("192.0.2.99")); len(x.Send) != 0 {
		t.Fatal("a conflict on another address declined")
	}
	now := t0.Add(300 * time.Millisecond)
	out = c.Conflict(now, offered)
	dec := one(t, out)
	if dec.Msg.Type != Decline || !dec.Broadcast || dec.Msg.RequestedIP != offered || dec.Msg.ServerID != serverIP ||
		out.Bind != nil || c.State() != Init {
		t.Fatalf("decline: %+v %+v, state %v", dec, dec.Msg, c.State())
	}
	if !c.Deadline().Equal(now.Add(10 * time.Second)) {
		t.Fatalf("restart at %v, want 10 s later", c.Deadline())
	}
	if d2 := one(t, c.Tick(c.Deadline())); d2.Msg.Type != Discover {
		t.Fatalf("after the wait: %v", d2.Msg.Type)
	}
}

func TestClientRelease(t *testing.T) {
	c, now := bound(t)
	out := c.Release(now)
	rel := one(t, out)
	if rel.Msg.Type != Release || rel.Broadcast || rel.To != serverIP || rel.Msg.CIAddr != offered ||
		rel.Msg.ServerID != serverIP || !out.Unbind || c.State() != Stopped || !c.Deadline().IsZero() {
		t.Fatalf("release: %+v %+v, state %v", rel, rel.Msg, c.State())
	}
	// Without a lease there is nothing to release.
	c2 := newTestClient()
	c2.Start(t0)
	if out := c2.Release(t0); len(out.Send) != 0 || out.Unbind || c2.State() != Stopped {
		t.Fatalf("release while selecting: %+v", out)
	}
}

func TestClientIgnoresStrangers(t *testing.T) {
	c := newTestClient()
	d := one(t, c.Start(t0))
	for _, m := range []*Message{
		{Op: opReply, XID: d.Msg.XID + 1, CHAddr: testMAC, Type: Offer, YIAddr: offered, ServerID: serverIP},
		{Op: opReply, XID: d.Msg.XID, CHAddr: [6]byte{9}, Type: Offer, YIAddr: offered, ServerID: serverIP},
		{Op: opRequest, XID: d.Msg.XID, CHAddr: testMAC, Type: Offer, YIAddr: offered, ServerID: serverIP},
		{Op: opReply, XID: d.Msg.XID, CHAddr: testMAC, Type: Ack, YIAddr: offered, ServerID: serverIP},
		{Op: opReply, XID: d.Msg.XID, CHAddr: testMAC, Type: Offer, ServerID: serverIP},
	} {
		if out := c.Receive(t0, m); len(out.Send) != 0 || c.State() != Selecting {
			t.Fatalf("acted on %+v: %+v", m, out)
		}
	}
	if c.Stats.Ignored.Load() != 5 {
		t.Fatalf("ignored %d", c.Stats.Ignored.Load())
	}
}

func TestClientInfiniteLease(t *testing.T) {
	c := NewClient(Config{MAC: testMAC, ProbeWait: -1})
	d := one(t, c.Start(t0))
	r := one(t, c.Receive(t0, reply(d.Msg, Offer, 0, 0, 0)))
	out := c.Receive(t0, reply(r.Msg, Ack, 0xffffffff*time.Second, 0, 0))
	if out.Bind == nil || c.State() != Bound || !c.Deadline().IsZero() {
		t.Fatalf("infinite lease without probe: %+v, %v, deadline %v", out, c.State(), c.Deadline())
	}
}
